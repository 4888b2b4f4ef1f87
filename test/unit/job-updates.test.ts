import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Job, JobStatus } from '../../src/domain/job.js';
import { createJobPubSub } from '../../src/services/jobs/job-events.js';
import { type JobUpdatesDeps, openJobUpdates } from '../../src/services/jobs/job-updates.js';

// One subscriber's stream of a job, in process: an in-memory pub/sub, a watch registry that counts, and a job map
// standing in for the store.

const T0 = Date.UTC(2025, 0, 1);

function job(status: JobStatus, at: number, patch: Partial<Job> = {}): Job {
  return {
    id: 'job-1',
    owner: 'alice',
    upstreamId: 7,
    status,
    request: { input: 'https://example.test/in.png', options: { prompt: 'add a duck' } },
    requestHash: 'hash',
    idempotencyKey: null,
    errors: [],
    result: null,
    history: [],
    createdAt: new Date(T0),
    updatedAt: new Date(at),
    lastPolledAt: new Date(at),
    finishedAt: null,
    ...patch,
  };
}

function rig(stored: Job | null, options: { beforeLoad?: (deps: JobUpdatesDeps) => void } = {}) {
  const events = createJobPubSub();
  const watching = { now: 0, ever: 0, sawFinal: [] as string[] };
  const shutdown = new AbortController();
  const deps: JobUpdatesDeps = {
    events,
    poller: {
      watch: () => {
        watching.now++;
        watching.ever++;
        return () => watching.now--;
      },
      sawFinal: (final) => watching.sawFinal.push(final.status),
    },
    loadJobs: async (owner) => {
      options.beforeLoad?.(deps);
      return [stored && stored.owner === owner ? stored : null];
    },
    shutdown: shutdown.signal,
  };
  const publish = (next: Job) => events.publish('job:updated', next.id, next);
  return { deps, watching, shutdown, publish };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('openJobUpdates', () => {
  it('fails up front with NOT_FOUND for an unknown job or another owner’s', async () => {
    const { deps } = rig(job('WAITING', T0));
    await expect(openJobUpdates(deps, 'bob', 'job-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(openJobUpdates(rig(null).deps, 'alice', 'job-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('gives the stored state first, then each change, and ends after a final one, releasing the watch', async () => {
    const { deps, watching, publish } = rig(job('WAITING', T0));
    const updates = await openJobUpdates(deps, 'alice', 'job-1');
    expect((await updates.next()).value?.status).toBe('WAITING');
    const next = updates.next();
    expect(watching.now).toBe(1);
    publish(job('PROCESSING', T0 + 1));
    expect((await next).value?.status).toBe('PROCESSING');
    publish(job('PROCESSING', T0 + 2)); // nothing a reader sees changed: not an event
    publish(job('DONE', T0 + 3));
    expect((await updates.next()).value?.status).toBe('DONE');
    expect((await updates.next()).done).toBe(true);
    expect(watching.now).toBe(0);
    // The poller hears of the end too, once, so that nobody reads the job again.
    expect(watching.sawFinal).toEqual(['DONE']);
  });

  it('keeps a change published while the job was loading', async () => {
    const { deps, publish } = rig(job('WAITING', T0), {
      beforeLoad: () => publish(job('PROCESSING', T0 + 1)),
    });
    const updates = await openJobUpdates(deps, 'alice', 'job-1');
    expect((await updates.next()).value?.status).toBe('WAITING');
    expect((await updates.next()).value?.status).toBe('PROCESSING');
    await updates.return(undefined);
  });

  it('a slow subscriber gets only the newest state', async () => {
    const { deps, publish } = rig(job('ACCEPTED', T0));
    const updates = await openJobUpdates(deps, 'alice', 'job-1');
    expect((await updates.next()).value?.status).toBe('ACCEPTED');
    publish(job('WAITING', T0 + 1));
    publish(job('PROCESSING', T0 + 2));
    publish(job('PROCESSING', T0 + 3, { errors: [{ message: 'slow', createdAt: new Date(T0 + 3) }] }));
    await tick();
    const newest = (await updates.next()).value;
    expect(newest?.status).toBe('PROCESSING');
    expect(newest?.errors).toHaveLength(1);
    const after = updates.next();
    publish(job('DONE', T0 + 4));
    expect((await after).value?.status).toBe('DONE');
  });

  it('return() while waiting on a quiet job ends the stream and releases the watch at once', async () => {
    const { deps, watching } = rig(job('WAITING', T0));
    const updates = await openJobUpdates(deps, 'alice', 'job-1');
    await updates.next();
    const pending = updates.next();
    await updates.return(undefined);
    expect((await pending).done).toBe(true);
    expect(watching.now).toBe(0);
  });

  it('a final job gives one event and is never watched; shutdown ends the others', async () => {
    const done = rig(job('DONE', T0));
    const finished = await openJobUpdates(done.deps, 'alice', 'job-1');
    expect((await finished.next()).value?.status).toBe('DONE');
    expect((await finished.next()).done).toBe(true);
    expect(done.watching.ever).toBe(0);

    const running = rig(job('WAITING', T0));
    const updates = await openJobUpdates(running.deps, 'alice', 'job-1');
    await updates.next();
    const pending = updates.next();
    running.shutdown.abort();
    expect((await pending).done).toBe(true);
    expect(running.watching.now).toBe(0);
  });

  it('30 open streams hold one abort listener on the shutdown signal, none once they end, and warn of nothing', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { deps, shutdown } = rig(job('WAITING', T0));
      const streams = await Promise.all(Array.from({ length: 30 }, () => openJobUpdates(deps, 'alice', 'job-1')));
      await Promise.all(streams.map((s) => s.next()));
      expect(getEventListeners(shutdown.signal, 'abort').length).toBeLessThanOrEqual(1);
      await Promise.all(streams.map((s) => s.return(undefined)));
      expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
      // Node emits the warning on the next tick after the listener that crosses the limit.
      await tick();
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('shutdown still ends every open stream with one listener for all', async () => {
    const { deps, shutdown } = rig(job('WAITING', T0));
    const streams = await Promise.all(Array.from({ length: 12 }, () => openJobUpdates(deps, 'alice', 'job-1')));
    await Promise.all(streams.map((s) => s.next()));
    const pending = streams.map((s) => s.next());
    shutdown.abort();
    expect((await Promise.all(pending)).every((r) => r.done)).toBe(true);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});
