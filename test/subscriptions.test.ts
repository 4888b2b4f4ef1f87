import { getEventListeners, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function gatewayOnSimulator(stepMs: number, env: Record<string, string> = {}) {
  const simulator: Simulator = await startSimulator({ stepMs });
  const gateway = await startTestGateway({
    env: { CLAID_API_URL: simulator.url, POLL_INTERVAL_MS: '40', BACKGROUND_POLL_INTERVAL_MS: '2000', ...env },
  });
  cleanups.push(
    () => simulator.close(),
    () => gateway.stop(),
  );
  return { simulator, gateway };
}

async function submit(gateway: Gateway, simulator: Simulator): Promise<{ id: string; upstreamId: number }> {
  const res = await gql(gateway, SUBMIT, {
    input: { input: simulator.sampleUrl(), options: { prompt: 'add a duck' } },
  });
  expect(res.errors).toBeUndefined();
  return res.data!.submitAiEdit.job;
}

const ORDER = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];

function expectForwardWalk(statuses: string[]) {
  expect(statuses[0]).toBe('ACCEPTED');
  expect(statuses.at(-1)).toBe('DONE');
  expect(new Set(statuses).size).toBe(statuses.length);
  const ranks = statuses.map((s) => ORDER.indexOf(s));
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
}

describe('aiEditJobUpdated over graphql-ws', () => {
  it('sees ACCEPTED -> ... -> DONE in order without repeats, the last with the result, then completes', async () => {
    const { gateway, simulator } = await gatewayOnSimulator(300);
    const { id } = await submit(gateway, simulator);
    const client = wsClient(gateway);
    cleanups.push(() => client.dispose());
    const { done } = collect(client, UPDATED, { id });
    const { events, error } = await done;
    expect(error).toBeUndefined();
    const jobs = events.map((e) => e.data!.aiEditJobUpdated);
    expectForwardWalk(jobs.map((j) => j.status));
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    expect(jobs.at(-1).result.outputObjects[0].tmpUrl).toMatch(/^http/);
    expect(jobs.slice(0, -1).every((j) => j.result === null)).toBe(true);
  });

  it('an already final job gives one event and completes', async () => {
    const { gateway, simulator } = await gatewayOnSimulator(10);
    const { id } = await submit(gateway, simulator);
    await readUntilFinal(gateway, id);
    const client = wsClient(gateway);
    cleanups.push(() => client.dispose());
    const { events, error } = await collect(client, UPDATED, { id }).done;
    expect(error).toBeUndefined();
    expect(events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['DONE']);
  });

  it('an unknown id is NOT_FOUND, not a silent stream', async () => {
    const { gateway } = await gatewayOnSimulator(10);
    const client = wsClient(gateway);
    cleanups.push(() => client.dispose());
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    const { error, events } = await collect(client, UPDATED, { id: unknown }).done;
    const errors = (error as { message: string; extensions?: { code?: string } }[] | undefined) ?? events[0]?.errors;
    expect(errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('200 subscribers on one job: upstream reads stay within elapsed / interval + 2, and all see DONE', async () => {
    const interval = 100;
    const { gateway, simulator } = await gatewayOnSimulator(250, { POLL_INTERVAL_MS: String(interval) });
    const { id, upstreamId } = await submit(gateway, simulator);
    const started = Date.now();
    const clients = Array.from({ length: 4 }, () => wsClient(gateway));
    cleanups.push(() => Promise.all(clients.map((c) => c.dispose())).then(() => undefined));
    const subs = Array.from({ length: 200 }, (_, i) => collect(clients[i % clients.length]!, UPDATED, { id }).done);
    const results = await Promise.all(subs);
    const elapsed = Date.now() - started;
    for (const { events, error } of results) {
      expect(error).toBeUndefined();
      expect(events.at(-1)!.data!.aiEditJobUpdated.status).toBe('DONE');
    }
    const reads = simulator.stats.readsByTask.get(upstreamId) ?? 0;
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThanOrEqual(Math.floor(elapsed / interval) + 2);
  });
});

describe('aiEditJobUpdated over Server-Sent Events', () => {
  it('streams the same walk and completes', async () => {
    const { gateway, simulator } = await gatewayOnSimulator(150);
    const { id } = await submit(gateway, simulator);
    const { status, events, completed } = await collectSse(gateway, UPDATED, { id });
    expect(status).toBe(200);
    expect(completed).toBe(true);
    const jobs = events.map((e) => e.data!.aiEditJobUpdated);
    expectForwardWalk(jobs.map((j) => j.status));
    expect(jobs.at(-1).result.outputObjects.length).toBe(1);
  });
});

describe('restart', () => {
  it('a new subscription after a restart gets the current state and then DONE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const simulator = await startSimulator({ stepMs: 700 });
    cleanups.push(() => simulator.close());
    const env = {
      CLAID_API_URL: simulator.url,
      DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
      POLL_INTERVAL_MS: '40',
    };
    const first = await startTestGateway({ env });
    const { id } = await submit(first, simulator);
    const client = wsClient(first);
    const firstSub = collect(client, UPDATED, { id });
    while (firstSub.events.length < 2) await new Promise((r) => setTimeout(r, 20));
    await first.stop();
    const ended = await firstSub.done;
    expect(ended.events.at(-1)!.data!.aiEditJobUpdated.status).not.toBe('DONE');
    await client.dispose();

    const second = await startTestGateway({ env });
    cleanups.push(() => second.stop());
    const client2 = wsClient(second);
    cleanups.push(() => client2.dispose());
    const { events, error } = await collect(client2, UPDATED, { id }).done;
    expect(error).toBeUndefined();
    const statuses = events.map((e) => e.data!.aiEditJobUpdated.status);
    expect(statuses.at(-1)).toBe('DONE');
    expect(events[0]!.data!.aiEditJobUpdated.history.length).toBeGreaterThanOrEqual(2);
  });
});

describe('graphql-ws protocol', () => {
  async function rawSocket(gateway: Gateway): Promise<WebSocket> {
    const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    await once(socket, 'open');
    return socket;
  }

  it('closes with 4408 when connection_init never comes', async () => {
    const { gateway } = await gatewayOnSimulator(10);
    const socket = await rawSocket(gateway);
    const [code] = (await once(socket, 'close')) as [number];
    expect(code).toBe(4408);
  });

  it('closes with 4400 on a malformed message', async () => {
    const { gateway } = await gatewayOnSimulator(10);
    const socket = await rawSocket(gateway);
    socket.send('{"type":"connection_init"}');
    await once(socket, 'message');
    socket.send('{"type":"subscribe","id":1,"payload":"nonsense"}');
    const [code] = (await once(socket, 'close')) as [number];
    expect(code).toBe(4400);
  });

  it('on shutdown completes streams and closes sockets with 1001', async () => {
    const simulator = await startSimulator({ stepMs: 5000 });
    cleanups.push(() => simulator.close());
    const gateway = await startTestGateway({ env: { CLAID_API_URL: simulator.url, POLL_INTERVAL_MS: '40' } });
    const { id } = await submit(gateway, simulator);
    const socket = await rawSocket(gateway);
    socket.send('{"type":"connection_init"}');
    await once(socket, 'message');
    socket.send(JSON.stringify({ type: 'subscribe', id: 's1', payload: { query: UPDATED, variables: { id } } }));
    await once(socket, 'message');
    const closed = once(socket, 'close');
    await gateway.stop();
    const [code] = (await closed) as [number];
    expect(code).toBe(1001);
  });
});

describe('leaving', () => {
  it('when the last subscriber leaves a quiet job, its watch is released at once', async () => {
    const { gateway, simulator } = await gatewayOnSimulator(60_000);
    const { id } = await submit(gateway, simulator);
    const client = wsClient(gateway);
    cleanups.push(() => client.dispose());
    const sub = collect(client, UPDATED, { id });
    while (sub.events.length < 1) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(gateway.internals.poller.stats().watchers).toBe(1);
    await client.dispose();
    const deadline = Date.now() + 2_000;
    while (gateway.internals.poller.stats().watchers > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(gateway.internals.poller.stats().watchers).toBe(0);
  });
});

describe('many subscriptions on one instance', () => {
  it('30 live subscriptions add no abort listener each: no MaxListenersExceededWarning, none left after', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    const { gateway, simulator } = await gatewayOnSimulator(60_000);
    const jobs = await Promise.all(Array.from({ length: 30 }, () => submit(gateway, simulator)));
    const client = wsClient(gateway);
    cleanups.push(() => client.dispose());
    // One job each, so that no two share an execution: 30 streams of their own.
    const subs = jobs.map(({ id }) => collect(client, UPDATED, { id }));
    const deadline = Date.now() + 10_000;
    while (subs.some((s) => s.events.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(subs.every((s) => s.events.length >= 1)).toBe(true);
    const signal = gateway.internals.shutdownSignal;
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);

    await client.dispose();
    const released = Date.now() + 2_000;
    while (gateway.internals.poller.stats().watchers > 0 && Date.now() < released)
      await new Promise((r) => setTimeout(r, 20));
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
