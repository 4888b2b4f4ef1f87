// The gateway's domain model, free of GraphQL and of Claid's wire format.
// Enum-like values use Claid's own spelling (`v1`, `png`, `16:9`) so a stored request reads like what was sent;
// the schema maps them to GraphQL enum names.

// QUEUED is the gateway's own: the job is recorded and not yet known to Claid (no upstream id). The rest are Claid's.
export const JOB_STATUSES = [
  'QUEUED',
  'ACCEPTED',
  'WAITING',
  'PROCESSING',
  'DONE',
  'ERROR',
  'CANCELLED',
  'PAUSED',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>(['DONE', 'ERROR', 'CANCELLED']);
export const isFinalStatus = (status: JobStatus): boolean => FINAL_STATUSES.has(status);

export const AI_EDIT_MODELS = ['v1', 'v2'] as const;
export type AiEditModel = (typeof AI_EDIT_MODELS)[number];

export const IMAGE_FORMATS = ['jpeg', 'png'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '9:16', '16:9', '9:21', '21:9'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

/** Output sizes Claid documents for v1 aspect ratios (claid-facts.md). */
export const ASPECT_RATIO_SIZES: Readonly<Record<AspectRatio, { width: number; height: number }>> = {
  '1:1': { width: 1024, height: 1024 },
  '2:3': { width: 832, height: 1248 },
  '3:2': { width: 1248, height: 832 },
  '3:4': { width: 880, height: 1168 },
  '4:3': { width: 1168, height: 880 },
  '9:16': { width: 768, height: 1360 },
  '16:9': { width: 1360, height: 768 },
  '9:21': { width: 656, height: 1552 },
  '21:9': { width: 1552, height: 656 },
};

export interface AiEditOptions {
  prompt: string;
  model?: AiEditModel;
  aspectRatio?: AspectRatio;
  inferenceSteps?: number;
  guidanceScale?: number;
}

export interface AiEditOutput {
  destination?: string;
  format?: ImageFormat;
  numberOfImages?: number;
}

/** A request as the caller gave it: only the fields they set are present. */
export interface AiEditRequest {
  input: string;
  output?: AiEditOutput;
  options: AiEditOptions;
}

export interface AiEditImage {
  ext?: string;
  mps?: number;
  mime?: string;
  format?: string;
  width?: number;
  height?: number;
}

export interface AiEditOutputImage extends AiEditImage {
  tmpUrl?: string;
  objectKey?: string;
  objectBucket?: string;
  objectUri?: string;
  claidStorageUri?: string;
}

export interface AiEditResult {
  inputObject: AiEditImage;
  outputObjects: AiEditOutputImage[];
}

export interface AiEditError {
  message: string;
  createdAt: Date;
  /** Set when the gateway itself ended the job (e.g. UPSTREAM_OUTCOME_UNKNOWN); Claid's own errors have none. */
  code?: string;
}

export interface StatusChange {
  status: JobStatus;
  at: Date;
  /**
   * When the status before it was last seen (the read before the one that saw this): the change happened in
   * (since, at]. Absent when `at` is exact (a push, a submit's answer). Internal: the duration model learns from it.
   */
  since?: Date;
}

/** What one upstream submit or status read tells us about a task. */
export interface UpstreamTaskState {
  upstreamId: number;
  status: JobStatus;
  createdAt: Date;
  errors: AiEditError[];
  result: AiEditResult | null;
  /** The request body the upstream says the task was made from, in its own wire format; absent when not echoed. */
  request?: unknown;
}

export interface Job {
  /** The gateway's own id (a UUID); the schema wraps it in a global id. */
  id: string;
  owner: string;
  /** Claid's task id; null while the job is QUEUED (not yet accepted upstream), or when the submit's outcome is unknown. */
  upstreamId: number | null;
  status: JobStatus;
  request: AiEditRequest;
  requestHash: string;
  idempotencyKey: string | null;
  errors: AiEditError[];
  result: AiEditResult | null;
  history: StatusChange[];
  createdAt: Date;
  /** Last time the gateway saw a change. */
  updatedAt: Date;
  /** Last time the task was read upstream (or submitted). */
  lastPolledAt: Date;
  /** When the job reached a final status; null while it runs. */
  finishedAt: Date | null;
}

/** A job Claid has: it has a task id, so it can be read upstream. */
export type SentJob = Job & { upstreamId: number };
export const isSentJob = (job: Job): job is SentJob => job.upstreamId !== null;

/** How long Claid keeps a temporary result URL valid (claid-facts.md). */
export const TMP_URL_TTL_MS = 24 * 60 * 60 * 1000;

// Statuses ordered by progress. PAUSED is a side state: it may be entered from and left to any unfinished status.
const STATUS_RANK: Record<JobStatus, number> = {
  QUEUED: -1,
  ACCEPTED: 0,
  WAITING: 1,
  PAUSED: 1,
  PROCESSING: 2,
  DONE: 3,
  ERROR: 3,
  CANCELLED: 3,
};

/** Whether moving from `current` to `next` goes forward; a late or duplicated answer must never undo progress. */
export function isForwardTransition(current: JobStatus, next: JobStatus): boolean {
  if (isFinalStatus(current)) return false;
  if (isFinalStatus(next)) return true;
  if (next === 'QUEUED') return current === 'QUEUED';
  if (current === 'PAUSED' || next === 'PAUSED') return true;
  return STATUS_RANK[next] >= STATUS_RANK[current];
}
