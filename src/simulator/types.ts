import type { Logger } from 'pino';
import type { FailSpec, HangSpec } from './control.js';
import type { TaskPlanner } from './task-timeline.js';

// The simulator's public shape: what startSimulator takes and returns.

/** Where the simulator sends its webhooks. */
export interface WebhookTarget {
  url: string;
  /** Unset: notifications go unsigned. */
  secret?: string | undefined;
}

export interface SimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The Bearer token accepted; default 'simulator-key'. */
  apiKey?: string;
  /** Time per status step ACCEPTED -> WAITING -> PROCESSING -> DONE; default 1500. */
  stepMs?: number;
  /** Enforced with 429 when set; default false (headers still sent, computed against 4/s and 120/min). */
  rateLimit?: { perSecond: number; perMinute: number } | false;
  /**
   * Claid's generation limit (1/s and 60/min there), enforced with 429 on submits when set, on top of rateLimit: a
   * valid submit takes one generation. Default false (unlimited).
   */
  generationLimit?: { perSecond: number; perMinute: number } | false;
  /**
   * Gives each new task its own WAITING, PROCESSING and DONE times (the benchmarks' duration distributions); a task
   * it returns nothing for walks by `stepMs`. Not part of the Claid-compatible API.
   */
  taskPlanner?: TaskPlanner;
  /**
   * Where tasks and output images are kept across restarts (`<dataDir>/simulator.db`, created when missing).
   * Unset: in memory only. Either way a task id is never handed out twice.
   */
  dataDir?: string;
  /** Where to POST a notification at each status change (Claid's webhooks); also settable later (control). */
  webhook?: WebhookTarget;
  logger?: Logger;
}

export interface SimulatorControl {
  /** Make the next `times` (default 1) matching requests fail; endpoint defaults to 'any'. */
  fail(spec: FailSpec): void;
  /** Accept the next `times` (default 1) matching requests and never answer them. */
  hang(spec?: HangSpec): void;
  setStepMs(ms: number): void;
  /** Replaces the planner of new tasks' times (undefined: every new task walks by stepMs). */
  setTaskPlanner(planner: TaskPlanner | undefined): void;
  /** Sends a notification at each status change to `target` from now on; undefined: stops. */
  setWebhook(target: WebhookTarget | undefined): void;
  /** Clears injected failures, stats and rate-limit counts. */
  reset(): void;
}

export interface SimulatorStats {
  submits: number;
  reads: number;
  readsByTask: Map<number, number>;
  /** Webhook notifications sent (delivered or not). */
  webhooks: number;
  /**
   * 429s answered, by what was refused and which window refused it: `read:second`, `submit:minute`,
   * `generation:second`, ... (a submit refused by the generation limit counts as `generation:`).
   */
  rateLimited: Map<string, number>;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  apiKey: string;
  /** URL of a served sample input image: 'living-room.jpg' (default), 'portrait.jpg', 'square.png'; the extension may be left off. */
  sampleUrl(name?: string): string;
  control: SimulatorControl;
  /** Requests that reached the submit and status endpoints, including failed and injected ones. */
  stats: SimulatorStats;
  /**
   * When a task finished upstream (ms since the epoch): its walk reached DONE (or ERROR) and its run had ended.
   * Undefined while it runs, or for a task this process does not know. What detection delays are measured against.
   */
  finishedAt(taskId: number): number | undefined;
  /** Closes the server and every socket, hanging ones included, and then the task store. */
  close(): Promise<void>;
}
