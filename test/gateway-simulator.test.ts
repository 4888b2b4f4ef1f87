import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, READ, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('end to end on the embedded simulator', () => {
  it('submits, reads to DONE and serves real images of the promised size and format', async () => {
    const gateway = await startTestGateway({ env: { POLL_INTERVAL_MS: '20' } });
    cleanups.push(() => gateway.stop());
    expect(gateway.internals.simulator).toBeDefined();
    const input = gateway.internals.simulator!.sampleUrl('living-room');

    const cases = [
      {
        options: { prompt: 'add a duck', model: 'V1', aspectRatio: 'RATIO_16_9' },
        output: { format: 'JPEG', numberOfImages: 2 },
        size: [1360, 768],
        format: 'jpeg',
      },
      { options: { prompt: 'add a red sofa' }, output: undefined, size: null, format: 'png' },
    ] as const;
    for (const c of cases) {
      const submitted = await gql(gateway, SUBMIT, { input: { input, options: c.options, output: c.output } });
      expect(submitted.errors).toBeUndefined();
      const job = await readUntilFinal(gateway, submitted.data!.submitAiEdit.job.id);
      expect(job.status).toBe('DONE');
      // Every status seen once, in the simulator's order (a fast walk may skip one between two reads).
      const seen = job.history.map((h: { status: string }) => h.status) as string[];
      // QUEUED first: the gateway records the job before it calls the simulator.
      const order = ['QUEUED', 'ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];
      expect(seen.slice(0, 2)).toEqual(['QUEUED', 'ACCEPTED']);
      expect(seen.at(-1)).toBe('DONE');
      expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort());
      expect(new Set(seen).size).toBe(seen.length);
      const outputs = job.result.outputObjects as {
        tmpUrl: string;
        width: number;
        height: number;
        format: string;
        expiresAt: string;
      }[];
      expect(outputs).toHaveLength(c.output?.numberOfImages ?? 1);
      for (const out of outputs) {
        const res = await fetch(out.tmpUrl);
        expect(res.status).toBe(200);
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        expect(meta.format).toBe(c.format);
        expect([meta.width, meta.height]).toEqual([out.width, out.height]);
        if (c.size) expect([meta.width, meta.height]).toEqual(c.size);
        else {
          // No ratio: the input's 3:2 ratio at about 2K on the long side (model V2).
          expect(Math.max(meta.width!, meta.height!)).toBeGreaterThanOrEqual(1900);
          expect(meta.width! / meta.height!).toBeCloseTo(
            job.result.inputObject.width / job.result.inputObject.height,
            1,
          );
        }
        expect(Date.parse(out.expiresAt)).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
      }
    }
  });

  it('an unreachable input ends in ERROR with a message', async () => {
    const gateway = await startTestGateway({ env: { POLL_INTERVAL_MS: '20' } });
    cleanups.push(() => gateway.stop());
    const submitted = await gql(gateway, SUBMIT, {
      input: { input: 'http://127.0.0.1:1/missing.jpg', options: { prompt: 'add a duck' } },
    });
    const job = await readUntilFinal(gateway, submitted.data!.submitAiEdit.job.id);
    expect(job.status).toBe('ERROR');
    expect(job.errors[0].message).toMatch(/.{10,}/);
    expect(job.result).toBeNull();
  });
});

describe('persistence', () => {
  it('a job submitted before a restart is readable after it, and still finishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-persist-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const simulator: Simulator = await startSimulator({ stepMs: 150 });
    cleanups.push(() => simulator.close());
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
      CLAID_API_URL: simulator.url,
      POLL_INTERVAL_MS: '20',
    };

    const first: Gateway = await startTestGateway({ env });
    const submitted = await gql(first, SUBMIT, {
      input: { input: simulator.sampleUrl(), options: { prompt: 'add a duck' }, idempotencyKey: 'persist-1' },
    });
    const id = submitted.data!.submitAiEdit.job.id as string;
    await first.stop();

    const second: Gateway = await startTestGateway({ env });
    cleanups.push(() => second.stop());
    const read = await gql(second, READ, { id });
    expect(read.data!.aiEditJob.id).toBe(id);
    const job = await readUntilFinal(second, id);
    expect(job.status).toBe('DONE');
    // The idempotency key survived the restart too.
    const again = await gql(second, SUBMIT, {
      input: { input: simulator.sampleUrl(), options: { prompt: 'add a duck' }, idempotencyKey: 'persist-1' },
    });
    expect(again.data!.submitAiEdit.job.id).toBe(id);
    expect(simulator.stats.submits).toBe(1);
  });
});
