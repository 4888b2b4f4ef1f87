import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../domain/errors.js';
import type { Job } from '../../domain/job.js';
import type { JobStore } from '../store/job-store.js';

// An idempotency key belongs to the job recorded for it, and that job is recorded before its upstream call, so a
// repeat gets the job at once in whatever state it is. A claim without a job lives only between the claim and the
// job's insert; one older than `staleAfterMs` belongs to a submit that died there, and is taken over.

export interface IdempotencyClaimsDeps {
  store: JobStore;
  /** Reads a job as its owner sees it (null when it is gone). */
  findOwned: (owner: string, id: string) => Promise<Job | null>;
  /** How long a claim without a job is waited for before it is taken over: the upstream timeout plus a margin. */
  staleAfterMs: number;
  now: () => Date;
}

/** What settling a key gives: the caller holds it now (and must record a job or release it), or its job. */
export type SettledKey = { claimed: true } | { claimed: false; job: Job };

const WAIT_STEP_MS = 25;
const TAKE_OVER_EVERY_MS = 250;

export class IdempotencyClaims {
  constructor(private readonly deps: IdempotencyClaimsDeps) {}

  async settle(owner: string, key: string, requestHash: string): Promise<SettledKey> {
    // A job that vanished (its key outlived it) lets the key be claimed again: a few times at most, never forever.
    for (let attempt = 0; attempt < 3; attempt++) {
      const settled = await this.#settleOnce(owner, key, requestHash);
      if (settled) return settled;
    }
    throw new GatewayError('UPSTREAM_UNAVAILABLE', 'Could not settle this idempotency key; try again shortly.');
  }

  async #settleOnce(owner: string, key: string, requestHash: string): Promise<SettledKey | null> {
    const { store, now } = this.deps;
    const deadline = Date.now() + this.deps.staleAfterMs + TAKE_OVER_EVERY_MS * 2;
    let nextTakeOver = 0;
    for (;;) {
      const claim = await store.claimIdempotencyKey(owner, key, requestHash, now());
      if (claim.claimed) return { claimed: true };
      if (claim.requestHash !== requestHash) throw idempotencyKeyReused();
      if (claim.jobId) {
        const job = await this.deps.findOwned(owner, claim.jobId);
        return job ? { claimed: false, job } : null;
      }
      // The store checks the claim's age itself, atomically; asked now and then, not at every step.
      if (Date.now() >= nextTakeOver) {
        nextTakeOver = Date.now() + TAKE_OVER_EVERY_MS;
        const staleBefore = new Date(now().getTime() - this.deps.staleAfterMs);
        if (await store.takeOverIdempotencyKey(owner, key, requestHash, staleBefore, now())) return { claimed: true };
      }
      if (Date.now() > deadline) {
        throw new GatewayError(
          'UPSTREAM_UNAVAILABLE',
          'An earlier submit with this idempotency key is still in progress; try again shortly.',
        );
      }
      await sleep(WAIT_STEP_MS);
    }
  }
}

export function idempotencyKeyReused(): GatewayError {
  return new GatewayError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used with a different request.', {
    field: 'input.idempotencyKey',
  });
}
