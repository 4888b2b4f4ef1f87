import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Simulator, startSimulator, type TaskPlan } from '../src/simulator/server.js';

// The simulator's per-task times (SimulatorOptions.taskPlanner, used by the arrivals benchmark): reads and webhooks
// follow each task's own plan, and Simulator.finishedAt records when the task finished upstream.

const PLAN: TaskPlan = { waitingAtMs: 100, processingAtMs: 300, doneAtMs: 700 };
let sim: Simulator;
let receiver: Server;
const heard: { status: string; at: number }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      heard.push({ status: (JSON.parse(body) as { data: { status: string } }).data.status, at: Date.now() });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  // A step of 60 s: any status change within the test comes from the plan.
  sim = await startSimulator({ stepMs: 60_000, taskPlanner: () => PLAN, webhook: { url } });
});
afterAll(async () => {
  await sim.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

it('walks each task by its plan, notifies at each planned step and records the upstream finish', async () => {
  const headers = { Authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json' };
  const submitted = await fetch(`${sim.url}/v1/image/ai-edit`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input: sim.sampleUrl(), options: { prompt: 'add a duck' } }),
  });
  const { data } = (await submitted.json()) as { data: { id: number; created_at: string } };
  const createdAt = Date.parse(data.created_at);
  const statusNow = async () =>
    (
      (await (await fetch(`${sim.url}/v1/image/ai-edit/${data.id}`, { headers })).json()) as {
        data: { status: string };
      }
    ).data.status;
  expect(sim.finishedAt(data.id)).toBeUndefined();
  // Every read answers the plan's status for its moment: at least the one due when it was sent, at most the one due
  // when its answer came (a loaded machine may delay either end, so the moments are taken on both sides).
  const ORDER = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];
  const planned = (at: number) =>
    at - createdAt >= PLAN.doneAtMs
      ? 3
      : at - createdAt >= PLAN.processingAtMs
        ? 2
        : at - createdAt >= PLAN.waitingAtMs
          ? 1
          : 0;
  const seen: string[] = [];
  while (Date.now() - createdAt < 5_000) {
    const sentAt = Date.now();
    const status = await statusNow();
    const answeredAt = Date.now();
    // (2 ms for created_at's rounding to the millisecond)
    const moment = `${status} at ${sentAt - createdAt}-${answeredAt - createdAt} ms`;
    // DONE also waits for the task's outputs, which a loaded machine may render after the plan's moment: until the
    // simulator says it finished, PROCESSING is the most that is due.
    const finished = sim.finishedAt(data.id);
    const due = planned(sentAt - 2);
    const floor = due === 3 && (finished === undefined || finished > sentAt - 2) ? 2 : due;
    expect(ORDER.indexOf(status), moment).toBeGreaterThanOrEqual(floor);
    expect(ORDER.indexOf(status), moment).toBeLessThanOrEqual(planned(answeredAt + 2));
    if (seen.at(-1) !== status) seen.push(status);
    if (status === 'DONE') break;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  // In order, ending DONE (a slow read may skip a short step; each one seen was due).
  expect(seen.at(-1)).toBe('DONE');
  expect([...seen].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))).toEqual(seen);
  const finishedAt = sim.finishedAt(data.id)!;
  // The plan's DONE, unless the render ended later.
  expect(finishedAt).toBeGreaterThanOrEqual(createdAt + PLAN.doneAtMs);
  expect(finishedAt).toBeLessThan(createdAt + 2_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(heard.map((h) => h.status)).toEqual(['WAITING', 'PROCESSING', 'DONE']);
  expect(heard[0]!.at).toBeGreaterThanOrEqual(createdAt + PLAN.waitingAtMs);
  expect(heard[1]!.at).toBeGreaterThanOrEqual(createdAt + PLAN.processingAtMs);
  expect(heard[2]!.at).toBeGreaterThanOrEqual(createdAt + PLAN.doneAtMs);
});
