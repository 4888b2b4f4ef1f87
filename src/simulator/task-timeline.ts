import type { SimTask } from './task-store.js';

// When each task moves: by default every task walks ACCEPTED -> WAITING -> PROCESSING -> DONE one `stepMs` a step;
// a planner (SimulatorOptions.taskPlanner, set by the benchmarks) can give each new task its own times instead. The
// upstream finish of every task (when its status first became DONE or ERROR, its render permitting) is recorded
// here too, so that a benchmark can measure how late a gateway noticed it. Kept in memory only: a task resumed
// after a restart walks by `stepMs` again.

/** When a task reaches WAITING, PROCESSING and DONE, in ms after its submit (non-decreasing). */
export interface TaskPlan {
  waitingAtMs: number;
  processingAtMs: number;
  doneAtMs: number;
}

/** Picks the plan of a task just submitted; undefined: the `stepMs` walk. */
export type TaskPlanner = (taskId: number) => TaskPlan | undefined;

/** The offsets (ms after submit) at which a task reaches WAITING, PROCESSING and DONE. */
export type Steps = readonly [number, number, number];

const LIMIT = 100_000;

export function checkPlan(plan: TaskPlan): TaskPlan {
  const { waitingAtMs: w, processingAtMs: p, doneAtMs: d } = plan;
  if (![w, p, d].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0) || w > p || p > d)
    throw new RangeError('a task plan needs 0 <= waitingAtMs <= processingAtMs <= doneAtMs');
  return plan;
}

export class TaskTimeline {
  private readonly plans = new Map<number, TaskPlan>();
  /** When a task's run ended (its outputs rendered, or its failure known), ms. */
  private readonly ended = new Map<number, number>();

  constructor(
    private readonly stepMs: () => number,
    private planner: TaskPlanner | undefined = undefined,
  ) {}

  setPlanner(planner: TaskPlanner | undefined): void {
    this.planner = planner;
  }

  /** Asks the planner for a new task's plan. */
  planned(taskId: number): void {
    const plan = this.planner?.(taskId);
    if (!plan) return;
    this.plans.set(taskId, checkPlan(plan));
    this.bound(this.plans);
  }

  /** The task's run ended (called whatever its outcome). */
  runEnded(taskId: number, at = Date.now()): void {
    this.ended.set(taskId, at);
    this.bound(this.ended);
  }

  steps(taskId: number): Steps {
    const plan = this.plans.get(taskId);
    if (plan) return [plan.waitingAtMs, plan.processingAtMs, plan.doneAtMs];
    const step = Math.max(0, this.stepMs());
    return [step, 2 * step, 3 * step];
  }

  /**
   * When the task finished upstream (ms): its walk reached DONE (ERROR: PROCESSING) and its run had ended,
   * whichever came later.
   * Undefined while it runs. Measured against the walk as it is now (a later setStepMs moves it for unplanned tasks).
   */
  finishedAt(task: Pick<SimTask, 'id' | 'createdAt' | 'generation'>): number | undefined {
    const ended = this.ended.get(task.id);
    if (ended === undefined || task.generation === 'pending') return undefined;
    // A failure shows once the walk reaches PROCESSING (tasks.ts), a result once it reaches DONE.
    const shown = this.steps(task.id)[task.generation === 'failed' ? 1 : 2];
    return Math.max(ended, task.createdAt.getTime() + shown);
  }

  private bound(map: Map<number, unknown>): void {
    if (map.size <= LIMIT) return;
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}
