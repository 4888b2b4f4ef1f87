import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { JobStatus } from '../domain/job.js';
import { observedStatus, taskData } from './api-routes.js';
import type { TaskStore } from './task-store.js';
import type { TaskTimeline } from './task-timeline.js';
import type { WebhookTarget } from './types.js';

// Claid's webhooks as the simulator sends them: a POST of the status answer's JSON at each status change after
// ACCEPTED, signed
// with X-Claid-Hmac-SHA256 (hex HMAC-SHA256 of the body) when a secret is set. One attempt each, no retry: Claid
// documents none, and a receiver must live with lost notifications anyway.

const SEND_TIMEOUT_MS = 5000;
const FINAL: ReadonlySet<JobStatus> = new Set(['DONE', 'ERROR', 'CANCELLED']);

export class WebhookNotifier {
  private target: WebhookTarget | undefined;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly sent = new Map<number, JobStatus>();

  constructor(
    private readonly deps: {
      store: TaskStore;
      timeline: TaskTimeline;
      logger: Logger;
      signal: AbortSignal;
      /** Counts each notification sent. */
      onSend: () => void;
    },
    target?: WebhookTarget,
  ) {
    this.target = target;
    deps.signal.addEventListener('abort', () => {
      for (const timer of this.timers.values()) clearTimeout(timer);
      this.timers.clear();
    });
  }

  setTarget(target: WebhookTarget | undefined): void {
    this.target = target;
  }

  /**
   * Looks at a task's status now: notifies when it changed since the last notification, and looks again at the next
   * step of its walk. Called at submit, at each step, and when the task's run ends (DONE waits for the render).
   */
  check(taskId: number): void {
    clearTimeout(this.timers.get(taskId));
    this.timers.delete(taskId);
    const task = this.deps.store.get(taskId);
    if (!task || this.deps.signal.aborted) return;
    const status = observedStatus(this.deps.store, task, this.deps.timeline);
    // The submit's answer already said ACCEPTED (and the receiver may not have stored the job yet).
    if (this.target && (this.sent.get(taskId) ?? 'ACCEPTED') !== status) {
      this.sent.set(taskId, status);
      this.send(this.target, JSON.stringify({ data: taskData(task, status) }));
    }
    if (FINAL.has(status)) {
      this.sent.delete(taskId);
      return;
    }
    const elapsed = Date.now() - task.createdAt.getTime();
    // At the walk's end only the render is awaited, and its end calls check().
    const nextStep = this.deps.timeline.steps(taskId).find((at) => at > elapsed);
    if (nextStep === undefined) return;
    const timer = setTimeout(() => this.check(taskId), nextStep - elapsed);
    timer.unref();
    this.timers.set(taskId, timer);
  }

  private send(target: WebhookTarget, body: string): void {
    this.deps.onSend();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.secret) headers['x-claid-hmac-sha256'] = createHmac('sha256', target.secret).update(body).digest('hex');
    fetch(target.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.any([this.deps.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]),
    })
      .then(async (response) => {
        await response.body?.cancel().catch(() => undefined);
        if (!response.ok) this.deps.logger.warn({ status: response.status }, 'simulator webhook refused');
      })
      .catch((err: unknown) => {
        // The receiver reconciles by polling; a refusal above is the one worth a warning (a wrong secret, say).
        if (!this.deps.signal.aborted) this.deps.logger.debug({ err }, 'simulator webhook not delivered');
      });
  }
}
