import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { captureLogger, startTestGateway } from './support/gateway.js';

// /ready tells a load balancer which check failed and nothing more: the error's text goes to the log.

let gateway: Gateway;
const log = captureLogger('info');
beforeAll(async () => {
  gateway = await startTestGateway({ logger: log.logger });
});
afterAll(() => gateway.stop());

describe('/ready', () => {
  it('answers 503 with a fixed body when the store fails, and logs the error with its stack', async () => {
    const { instanceId, store } = gateway.internals;
    const healthy = await fetch(`${gateway.url}/ready`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({
      status: 'ready',
      instanceId,
      checks: { store: 'ok', upstream: 'configured' },
    });

    await store.close();
    const res = await fetch(`${gateway.url}/ready`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      status: 'not ready',
      instanceId,
      checks: { store: 'failed', upstream: 'configured' },
    });
    expect(text).not.toMatch(/database|connection|not open|Error/i);

    const logged = log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'readiness check failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 50,
      check: 'store',
      err: { message: 'The database connection is not open' },
    });
    expect(logged[0].err.stack).toMatch(/at .*sqlite-job-store\.ts/);
  });
});
