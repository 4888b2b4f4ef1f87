import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, READ, readUntilFinal as readJobUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';
import { closedPort } from './support/test-upstream.js';

// The simulator across a restart: with a data directory it answers for the same tasks with the same bytes; with or
// without one it never hands out a task id twice.

type Json = Record<string, any>;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'simulator-restart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator({ stepMs: 40, ...options });
  cleanups.push(() => sim.close());
  return sim;
}

const portOf = (sim: Simulator): number => Number(new URL(sim.url).port);
const auth = (sim: Simulator) => ({ Authorization: `Bearer ${sim.apiKey}` });

async function submit(sim: Simulator, input: string, prompt: string): Promise<Json> {
  const res = await fetch(`${sim.url}/v1/image/ai-edit`, {
    method: 'POST',
    headers: { ...auth(sim), 'Content-Type': 'application/json' },
    body: JSON.stringify({ input, options: { prompt } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as Json)['data'];
}

async function read(sim: Simulator, id: number): Promise<{ status: number; data: Json | undefined }> {
  const res = await fetch(`${sim.url}/v1/image/ai-edit/${id}`, { headers: auth(sim) });
  return { status: res.status, data: ((await res.json()) as Json)['data'] };
}

async function readUntilFinal(sim: Simulator, id: number, timeoutMs = 10_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await read(sim, id);
    if (data && ['DONE', 'ERROR'].includes(data['status'])) return data;
    if (Date.now() > deadline) throw new Error(`task ${id} not final after ${timeoutMs} ms: ${JSON.stringify(data)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const bytes = async (url: string): Promise<Buffer> => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
};

/**
 * Input images that hang on their first request (so that a task is mid-download when the simulator stops) and
 * are answered afterwards: `/late.png` with a real image, `/gone.png` with 404.
 */
async function startSlowInputs(image: Buffer): Promise<{ url: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (requests.filter((p) => p === path).length === 1) return; // the first request of each path hangs
    if (path === '/late.png') {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(image.length) });
      res.end(image);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a simulator with a data directory, restarted', () => {
  it('answers for its old tasks with the same bytes, gives new tasks new ids and settles unfinished ones', async () => {
    const dataDir = tempDir();
    const first = await start({ dataDir });
    const port = portOf(first);
    const done = await submit(first, first.sampleUrl(), 'add a duck');
    const doneBefore = await readUntilFinal(first, done['id']);
    expect(doneBefore['status']).toBe('DONE');
    const outputUrl: string = doneBefore['result']['output_objects'][0]['tmp_url'];
    const outputBefore = await bytes(outputUrl);

    const inputs = await startSlowInputs(await bytes(first.sampleUrl('square.png')));
    const resumed = await submit(first, `${inputs.url}/late.png`, 'a lamp in the corner');
    const failing = await submit(first, `${inputs.url}/gone.png`, 'a cat on the sofa');
    await waitFor(() => inputs.requests.length === 2, 'both downloads to start');
    await first.close();
    expect(existsSync(join(dataDir, 'simulator.db'))).toBe(true);
    // Let this process's HTTP client see the old server's sockets close before it talks to the new one.
    await new Promise((r) => setTimeout(r, 100));

    const second = await start({ dataDir, port });
    // The finished task reads as it did, and its output URL serves the same bytes.
    const doneAfter = (await read(second, done['id'])).data!;
    expect(doneAfter).toEqual(doneBefore);
    expect((await bytes(outputUrl)).equals(outputBefore)).toBe(true);

    // The unfinished ones ran again: one to DONE with its own picture, one to a definite ERROR.
    const resumedFinal = await readUntilFinal(second, resumed['id']);
    expect(resumedFinal['status']).toBe('DONE');
    expect(resumedFinal['request']['options']['prompt']).toBe('a lamp in the corner');
    const resumedOutput = await bytes(resumedFinal['result']['output_objects'][0]['tmp_url']);
    expect(resumedOutput.equals(outputBefore)).toBe(false);
    const failingFinal = await readUntilFinal(second, failing['id']);
    expect(failingFinal['status']).toBe('ERROR');
    expect(failingFinal['errors'][0]['error']).toMatch(/Could not download the input image .*HTTP 404/);
    expect(inputs.requests.filter((p) => p === '/late.png')).toHaveLength(2);

    // A new task never takes an old id.
    const fresh = await submit(second, second.sampleUrl(), 'add a duck');
    expect(fresh['id']).toBeGreaterThan(Math.max(done['id'], resumed['id'], failing['id']));
    expect((await read(second, fresh['id'])).data!['request']['options']['prompt']).toBe('add a duck');
  });

  it('refuses to start on a directory another simulator holds', async () => {
    const dataDir = tempDir();
    await start({ dataDir });
    await expect(startSimulator({ dataDir })).rejects.toThrow(/in use by another simulator/);
  });
});

describe('a simulator without a data directory', () => {
  it('keeps tasks in memory only, and a restart still never reuses an id', async () => {
    const first = await start({});
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit(first, first.sampleUrl(), `edit ${i}`))['id']);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(Number.isSafeInteger(id) && id > 0 && id < 2 ** 31).toBe(true);
    await first.close();

    const second = await start({});
    expect((await read(second, ids[0]!)).status).toBe(404);
    const next = (await submit(second, second.sampleUrl(), 'after the restart'))['id'];
    expect(next).toBeGreaterThan(Math.max(...ids));
  });
});

describe('the issue: `npm start` restarted with a job running (file store, embedded simulator)', () => {
  it('finishes the job with its own result, and old output URLs keep their images', async () => {
    const dir = tempDir();
    const simulatorPort = await closedPort();
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'gateway.db')}`,
      SIMULATOR_DATA_DIR: join(dir, 'simulator'),
      SIMULATOR_PORT: String(simulatorPort),
      SIMULATOR_STEP_MS: '300',
      POLL_INTERVAL_MS: '20',
    };
    const input = `http://127.0.0.1:${simulatorPort}/samples/living-room.jpg`;
    const submitJob = async (g: { url: string }, prompt: string) => {
      const res = await gql(g, SUBMIT, { input: { input, options: { prompt } } });
      expect(res.errors).toBeUndefined();
      return res.data!.submitAiEdit.job as { id: string; upstreamId: number };
    };

    let gateway = await startTestGateway({ env });
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : gateway.stop()));
    const finished = await submitJob(gateway, 'job A: add a duck');
    const finishedJob = await readJobUntilFinal(gateway, finished.id);
    expect(finishedJob.status).toBe('DONE');
    const oldUrl: string = finishedJob.result.outputObjects[0].tmpUrl;
    const oldBytes = await bytes(oldUrl);
    const running = await submitJob(gateway, 'job B: paint the wall blue');
    expect((await gql(gateway, READ, { id: running.id })).data!.aiEditJob.isFinal).toBe(false);
    stopped = true;
    await gateway.stop();
    await new Promise((r) => setTimeout(r, 100));

    gateway = await startTestGateway({ env });
    stopped = false;
    const newer = await submitJob(gateway, 'job C: a cat on the sofa');
    expect(newer.upstreamId).not.toBe(running.upstreamId);
    expect(newer.upstreamId).not.toBe(finished.upstreamId);

    const runningJob = await readJobUntilFinal(gateway, running.id);
    const newerJob = await readJobUntilFinal(gateway, newer.id);
    expect(runningJob.status).toBe('DONE');
    expect(newerJob.status).toBe('DONE');
    const runningUrl: string = runningJob.result.outputObjects[0].tmpUrl;
    const newerUrl: string = newerJob.result.outputObjects[0].tmpUrl;
    expect(runningUrl).not.toBe(newerUrl);
    expect((await bytes(runningUrl)).equals(await bytes(newerUrl))).toBe(false);
    // The simulator's own record of B's task is B's request.
    const task = await fetch(`http://127.0.0.1:${simulatorPort}/v1/image/ai-edit/${running.upstreamId}`, {
      headers: { Authorization: 'Bearer simulator-key' },
    });
    expect(((await task.json()) as Json)['data']['request']['options']['prompt']).toBe('job B: paint the wall blue');
    // The job finished before the restart still points at its own picture.
    expect((await bytes(oldUrl)).equals(oldBytes)).toBe(true);
  });
});
