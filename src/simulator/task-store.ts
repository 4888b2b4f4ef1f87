import type { JobStatus } from '../domain/job.js';
import type { WireImageObject } from './images.js';
import type { SimulatedAiEditRequest } from './validation.js';

// Where the simulator keeps its tasks and their output images: in memory (tests), or in a SQLite file
// (sqlite-task-store.ts) so that a restart serves the same tasks and bytes instead of forgetting them.

export interface WireOutputObject extends WireImageObject {
  tmp_url: string;
  object_key: string;
  object_bucket: string;
  object_uri: string;
  claid_storage_uri: string;
}

export interface SimTask {
  id: number;
  createdAt: Date;
  /** The submitted body, echoed back as `request`. */
  request: unknown;
  params: SimulatedAiEditRequest;
  generation: 'pending' | 'done' | 'failed';
  failure: { message: string; at: Date } | undefined;
  result: { input_object: WireImageObject; output_objects: WireOutputObject[] } | undefined;
  /** Highest status reported so far: the walk never goes back, even when stepMs changes. */
  reported: JobStatus;
}

export interface OutputFile {
  body: Buffer;
  mime: string;
}

/** What a task's background run ends with. */
export type TaskOutcome = Pick<SimTask, 'generation' | 'failure' | 'result'>;

export interface TaskStore {
  /** An id no task of this store ever had, nor (see nextTaskId) a task of an earlier run without a file. */
  allocateId(now?: number): number;
  insert(task: SimTask): void;
  get(id: number): SimTask | undefined;
  /** Records the highest status reported, so that the walk never goes back, across restarts too. */
  report(id: number, status: JobStatus): void;
  finish(id: number, outcome: TaskOutcome): void;
  /** Tasks whose run had not ended when the store was last closed: the simulator runs them again. */
  unfinished(): SimTask[];
  putOutput(taskId: number, file: string, output: OutputFile): void;
  getOutput(taskId: number, file: string): OutputFile | undefined;
  close(): void;
}

const ID_EPOCH_MS = Date.UTC(2025, 0, 1);
const ID_TICK_MS = 250;

let lastIssuedId = 0;

/**
 * The next task id: above `floor` (the highest a store holds), above every id this process handed out, and at least
 * the clock's (quarter seconds since 2025). Claid's ids are 32-bit integers (the schema's `Int`), which this stays
 * within until 2042. So a simulator started again without a file never reuses an id in the same process, and in
 * a new process only if the last one handed out ids faster than Claid's 4 submits a second just before it stopped.
 */
export function nextTaskId(floor: number, now = Date.now()): number {
  const clock = Math.floor((now - ID_EPOCH_MS) / ID_TICK_MS);
  lastIssuedId = Math.max(lastIssuedId + 1, floor + 1, clock);
  return lastIssuedId;
}

/** Finished outputs and tasks kept in memory; outputs beyond a byte budget are dropped oldest first. */
export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<number, SimTask>();
  private readonly outputs = new Map<string, OutputFile>();
  private bytes = 0;

  constructor(private readonly maxOutputBytes = 512 * 1024 * 1024) {}

  allocateId(now = Date.now()): number {
    return nextTaskId(0, now);
  }

  insert(task: SimTask): void {
    this.tasks.set(task.id, task);
  }

  get(id: number): SimTask | undefined {
    return this.tasks.get(id);
  }

  report(id: number, status: JobStatus): void {
    const task = this.tasks.get(id);
    if (task) task.reported = status;
  }

  finish(id: number, outcome: TaskOutcome): void {
    const task = this.tasks.get(id);
    if (task) Object.assign(task, outcome);
  }

  unfinished(): SimTask[] {
    return [...this.tasks.values()].filter((task) => task.generation === 'pending');
  }

  putOutput(taskId: number, file: string, output: OutputFile): void {
    this.outputs.set(`${taskId}/${file}`, output);
    this.bytes += output.body.length;
    for (const [key, kept] of this.outputs) {
      if (this.bytes <= this.maxOutputBytes) break;
      this.outputs.delete(key);
      this.bytes -= kept.body.length;
    }
  }

  getOutput(taskId: number, file: string): OutputFile | undefined {
    return this.outputs.get(`${taskId}/${file}`);
  }

  close(): void {
    this.tasks.clear();
    this.outputs.clear();
    this.bytes = 0;
  }
}
