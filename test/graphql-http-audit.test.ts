import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { startTestGateway } from './support/gateway.js';

// The GraphQL over HTTP conformance audits of graphql-http, run against the running gateway with every hardening on
// (body limit, CSRF, Origin checks, armor, batching off). Every MUST passes; SHOULD and MAY results are reported.

describe('GraphQL over HTTP audits (graphql-http) with the hardening on', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { CORS_ORIGINS: 'https://app.example.com', INTROSPECTION: 'on' } });
  });
  afterAll(() => gateway.stop());

  const audits = serverAudits({ url: () => `${gateway.url}/graphql` });

  it('has MUST audits to run', () => {
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(13);
  });

  for (const audit of audits.filter((a) => a.name.startsWith('MUST'))) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status !== 'ok') {
        const body = 'response' in result ? await result.response.text().catch(() => '') : '';
        expect.fail(`${result.status}: ${result.reason} ${body.slice(0, 300)}`);
      }
    });
  }

  it('reports the SHOULD and MAY audits (informational; GET without a preflight header is refused by design)', async () => {
    const results = await Promise.all(
      audits.filter((a) => !a.name.startsWith('MUST')).map(async (a) => ({ a, r: await a.fn() })),
    );
    const notOk = results.filter(({ r }) => r.status !== 'ok').map(({ a, r }) => `${a.id} ${a.name}: ${r.status}`);
    // Each is an HTTP answer the audit judged, none a failure to answer.
    expect(results.every(({ r }) => r.status === 'ok' || 'response' in r)).toBe(true);
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    console.info(
      `graphql-http: ${results.length - notOk.length}/${results.length} SHOULD/MAY audits ok; not ok:\n${notOk.join('\n')}`,
    );
  });
});
