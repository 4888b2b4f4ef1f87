import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { ConfigError, loadConfig } from '../src/gateway/config.js';
import { isLoopbackHost } from '../src/services/auth/authenticator.js';
import { SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';
import { SUBMIT_PATH, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

const INPUT = 'https://images.example.com/room.jpg';
const LIST = /* GraphQL */ `query { aiEditJobs(first: 10) { edges { node { id } } } }`;
const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startTestUpstream();
  cleanups.push(() => upstream.close());
});

async function gateway(env: Record<string, string>): Promise<Gateway> {
  const g = await startTestGateway({ env: { CLAID_API_KEY: 'upstream-key', CLAID_API_URL: upstream.url, ...env } });
  cleanups.push(() => g.stop());
  return g;
}

async function post(
  g: Gateway,
  query: string,
  headers: Record<string, string> = {},
  variables?: Record<string, unknown>,
) {
  const res = await fetch(`${g.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function expectRefused(res: Awaited<ReturnType<typeof post>>, status = 401, code = 'UNAUTHENTICATED') {
  expect(res.status).toBe(status);
  expect(res.body.data ?? null).toBeNull();
  expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
  expect(res.body.errors?.[0]?.extensions?.http).toBeUndefined();
}

/** Opens a graphql-ws socket, sends connection_init with these params, and resolves with how it ended. */
async function wsHandshake(
  g: Gateway,
  payload: Record<string, unknown> | undefined,
): Promise<{ acked: boolean; closeCode?: number }> {
  const socket = new WebSocket(`${g.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'connection_init', ...(payload ? { payload } : {}) }));
  return new Promise((resolve) => {
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        socket.close();
        resolve({ acked: true });
      }
    });
    socket.on('close', (code) => resolve({ acked: false, closeCode: code }));
  });
}

describe('AUTH_MODE=none needs a loopback HOST', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
    expect(loadConfig({ HOST: host }).auth.mode).toBe('none');
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'gateway.example.com', '127.0.0.1.example.com'])(
    'refuses to start on %s without ALLOW_ANONYMOUS=true, with one line naming AUTH_MODE',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
      for (const env of [{ HOST: host }, { HOST: host, AUTH_MODE: 'none' }, { HOST: host, ALLOW_ANONYMOUS: 'false' }]) {
        let error: unknown;
        try {
          loadConfig(env);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toMatch(/^Invalid AUTH_MODE.*ALLOW_ANONYMOUS=true/);
        expect((error as Error).message).not.toContain('\n');
      }
      expect(loadConfig({ HOST: host, ALLOW_ANONYMOUS: 'true' }).auth).toMatchObject({
        mode: 'none',
        allowAnonymous: true,
      });
      expect(loadConfig({ HOST: host, AUTH_MODE: 'jwt', JWT_SECRET: SECRET }).auth.mode).toBe('jwt');
    },
  );

  it('the process exits 1 with one line naming AUTH_MODE, before listening', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOST: '0.0.0.0',
      PORT: '0',
      SIMULATOR_PORT: '0',
      LOG_LEVEL: 'info',
    };
    delete env.AUTH_MODE;
    delete env.ALLOW_ANONYMOUS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/AUTH_MODE.*0\.0\.0\.0.*ALLOW_ANONYMOUS=true/);
    expect(stdout).not.toMatch(/listening/);
  });

  it.each([
    [{ AUTH_MODE: 'basic' }, /^Invalid AUTH_MODE="basic": must be one of none, apikey, jwt$/],
    [{ ALLOW_ANONYMOUS: 'yes' }, /^Invalid ALLOW_ANONYMOUS="yes"/],
    [{ AUTH_MODE: 'apikey' }, /^Invalid GATEWAY_API_KEYS \(unset\): AUTH_MODE=apikey needs/],
    [{ AUTH_MODE: 'apikey', GATEWAY_API_KEYS: 'alice' }, /^Invalid GATEWAY_API_KEYS="\*\*\*": must be name:key pairs/],
    [
      { AUTH_MODE: 'apikey', GATEWAY_API_KEYS_FILE: '/nonexistent/keys' },
      /^Invalid GATEWAY_API_KEYS_FILE="\/nonexistent\/keys".*ENOENT/,
    ],
    [{ AUTH_MODE: 'jwt' }, /^Invalid JWT_JWKS_URL \(unset\): AUTH_MODE=jwt needs JWT_JWKS_URL or JWT_SECRET/],
    [{ AUTH_MODE: 'jwt', JWT_SECRET: 'short' }, /^Invalid JWT_SECRET="\*\*\*": must be at least 32 characters/],
    [
      { AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://idp.example.com/jwks' },
      /^Invalid JWT_SECRET="\*\*\*": set either/,
    ],
    [{ JWT_JWKS_URL: 'ftp://x' }, /^Invalid JWT_JWKS_URL="ftp:\/\/x"/],
    [{ MAX_SUBMITS_PER_MINUTE: '0' }, /^Invalid MAX_SUBMITS_PER_MINUTE="0": must be at least 1/],
    [{ MAX_UNFINISHED_JOBS: 'many' }, /^Invalid MAX_UNFINISHED_JOBS="many": must be a whole number/],
    [{ MAX_SUBSCRIPTIONS_PER_CONNECTION: '-1' }, /^Invalid MAX_SUBSCRIPTIONS_PER_CONNECTION/],
    [{ MAX_SUBSCRIPTIONS_PER_CALLER: '1.5' }, /^Invalid MAX_SUBSCRIPTIONS_PER_CALLER/],
  ])('refuses %o with one line, never showing a secret', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('defaults the spend limits', () => {
    expect(loadConfig({}).limits).toEqual({
      maxSubmitsPerMinute: 30,
      maxUnfinishedJobs: 50,
      maxSubscriptionsPerConnection: 20,
      maxSubscriptionsPerCaller: 100,
      maxCreditsPerDay: 1000,
    });
  });
});

describe('AUTH_MODE=apikey', () => {
  let dir: string;
  let keysFile: string;
  let g: Gateway;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    keysFile = join(dir, 'keys');
    writeFileSync(keysFile, '# callers\nalice:alice-key-0001\n\nbob:bob-key-00002\n');
    g = await gateway({
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS_FILE: keysFile,
      GATEWAY_API_KEYS: 'carol:carol-key-0003',
    });
  });

  it('refuses a missing, malformed or unknown key with 401 UNAUTHENTICATED, before any upstream call', async () => {
    upstream.reset();
    for (const headers of [
      {},
      { authorization: 'alice-key-0001' },
      { authorization: 'Basic YWxpY2U6eA==' },
      bearer('alice-key-0002'),
      bearer(''),
    ]) {
      const res = await post(g, SUBMIT, headers, { input: { input: INPUT, options: { prompt: 'add a duck' } } });
      expectRefused(res);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(upstream.requestsTo('POST', SUBMIT_PATH)).toHaveLength(0);
  });

  it('accepts keys from the file and from GATEWAY_API_KEYS; the name is the owner', async () => {
    for (const key of ['alice-key-0001', 'bob-key-00002', 'carol-key-0003']) {
      const res = await post(g, LIST, bearer(key));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    }
    const submitted = await post(g, SUBMIT, bearer('alice-key-0001'), {
      input: { input: INPUT, options: { prompt: 'add a duck' } },
    });
    expect(submitted.body.errors).toBeUndefined();
    const [job] = await g.internals.store.findByIds([
      Buffer.from(submitted.body.data.submitAiEdit.job.id, 'base64').toString().split(':')[1]!,
    ]);
    expect(job?.owner).toBe('alice');
  });

  it('refuses a revoked key once the file is reloaded (file change, and SIGHUP)', async () => {
    expect((await post(g, LIST, bearer('bob-key-00002'))).status).toBe(200);
    writeFileSync(keysFile, 'alice:alice-key-0001\n');
    // The file is watched: bob's key stops working within the watch interval.
    const deadline = Date.now() + 5_000;
    let status = 200;
    while (Date.now() < deadline && status === 200) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await post(g, LIST, bearer('bob-key-00002'))).status;
    }
    expect(status).toBe(401);
    expect((await post(g, LIST, bearer('alice-key-0001'))).status).toBe(200);

    // A SIGHUP reloads at once (emitted in-process: the handler is what is under test).
    writeFileSync(keysFile, 'bob:bob-key-00002\n');
    process.emit('SIGHUP', 'SIGHUP');
    expect((await post(g, LIST, bearer('bob-key-00002'))).status).toBe(200);
    expectRefused(await post(g, LIST, bearer('alice-key-0001')));
    // Inline keys are not in the file and stay.
    expect((await post(g, LIST, bearer('carol-key-0003'))).status).toBe(200);
  });

  it('keeps the previous keys when the file turns invalid', async () => {
    writeFileSync(keysFile, 'bob:bob-key-00002\n');
    process.emit('SIGHUP', 'SIGHUP');
    writeFileSync(keysFile, 'this is not a key file');
    process.emit('SIGHUP', 'SIGHUP');
    expect((await post(g, LIST, bearer('bob-key-00002'))).status).toBe(200);
  });

  it('graphql-ws: refuses a socket without a valid key with 4403, accepts one with or without "Bearer "', async () => {
    writeFileSync(keysFile, 'alice:alice-key-0001\n');
    process.emit('SIGHUP', 'SIGHUP');
    expect(await wsHandshake(g, undefined)).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsHandshake(g, { authorization: 'Bearer nope-nope-nope' })).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsHandshake(g, { authorization: 'Bearer alice-key-0001' })).toEqual({ acked: true });
    expect(await wsHandshake(g, { authorization: 'alice-key-0001' })).toEqual({ acked: true });
  });

  it('graphql-ws: a key revoked while its socket is open cannot start another subscription', async () => {
    writeFileSync(keysFile, 'alice:alice-key-0001\nbob:bob-key-00002\n');
    process.emit('SIGHUP', 'SIGHUP');
    // One socket for both subscriptions (the lazy client would otherwise reconnect, and be refused on connect).
    const client = createClient({
      url: `${g.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazyCloseTimeout: 10_000,
      connectionParams: { authorization: 'Bearer bob-key-00002' },
    });
    let connections = 0;
    client.on('connected', () => connections++);
    cleanups.push(() => client.dispose());
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    const errorsOf = async () => {
      const { error, events } = await collect(client, UPDATED, { id: unknown }).done;
      return (error as { message: string; extensions?: Record<string, unknown> }[] | undefined) ?? events[0]?.errors;
    };
    expect((await errorsOf())?.[0]?.extensions?.code).toBe('NOT_FOUND');
    writeFileSync(keysFile, 'alice:alice-key-0001\n');
    process.emit('SIGHUP', 'SIGHUP');
    const refused = await errorsOf();
    expect(refused?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(connections).toBe(1);
  });

  it('SSE: a subscription without a valid key is 401 UNAUTHENTICATED', async () => {
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    const res = await collectSse(g, UPDATED, { id: unknown }, bearer('wrong-key-000'));
    expect(res.status).toBe(401);
    const ok = await collectSse(g, UPDATED, { id: unknown }, bearer('alice-key-0001'));
    expect(ok.status).toBe(200);
    expect(ok.events[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('AUTH_MODE=jwt with JWT_SECRET (HS256)', () => {
  let g: Gateway;
  const key = new TextEncoder().encode(SECRET);
  const sign = (
    claims: Record<string, unknown>,
    options: { secret?: Uint8Array; exp?: string | number; aud?: string; iss?: string } = {},
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setIssuer(options.iss ?? 'https://idp.test')
      .setAudience(options.aud ?? 'ai-edit');
    jwt.setExpirationTime(options.exp ?? '5m');
    return jwt.sign(options.secret ?? key);
  };
  beforeAll(async () => {
    g = await gateway({
      AUTH_MODE: 'jwt',
      JWT_SECRET: SECRET,
      JWT_ISSUER: 'https://idp.test',
      JWT_AUDIENCE: 'ai-edit,ai-edit-admin',
    });
  });

  it('accepts a valid token; its sub is the owner', async () => {
    const res = await post(g, SUBMIT, bearer(await sign({ sub: 'user-42' })), {
      input: { input: INPUT, options: { prompt: 'add a duck' } },
    });
    expect(res.body.errors).toBeUndefined();
    const jobs = await g.internals.store.listJobs({ owner: 'user-42', limit: 10 });
    expect(jobs.jobs.map((j) => j.upstreamId)).toEqual([res.body.data.submitAiEdit.job.upstreamId]);
    expect((await post(g, LIST, bearer(await sign({ sub: 'user-42' }, { aud: 'ai-edit-admin' })))).status).toBe(200);
  });

  it('refuses a missing, forged, expired, wrong-audience, wrong-issuer or exp-less token with 401', async () => {
    const forged = await sign(
      { sub: 'user-42' },
      { secret: new TextEncoder().encode('another-secret-another-secret-another') },
    );
    const expired = await sign({ sub: 'user-42' }, { exp: Math.floor(Date.now() / 1000) - 60 });
    const wrongAudience = await sign({ sub: 'user-42' }, { aud: 'someone-else' });
    const wrongIssuer = await sign({ sub: 'user-42' }, { iss: 'https://evil.test' });
    const noExp = await new SignJWT({ sub: 'user-42' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://idp.test')
      .setAudience('ai-edit')
      .sign(key);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'user-42', aud: 'ai-edit', iss: 'https://idp.test', exp: 9999999999 })).toString('base64url')}.`;
    expectRefused(await post(g, LIST));
    for (const token of [forged, expired, wrongAudience, wrongIssuer, noExp, none, 'not-a-jwt']) {
      expectRefused(await post(g, LIST, bearer(token)));
    }
  });

  it('refuses a genuine token that names no caller with 403 FORBIDDEN', async () => {
    expectRefused(await post(g, LIST, bearer(await sign({}))), 403, 'FORBIDDEN');
  });

  it('graphql-ws: checks the token in connection_init (4403 when refused)', async () => {
    const expired = await sign({ sub: 'user-42' }, { exp: Math.floor(Date.now() / 1000) - 60 });
    expect(await wsHandshake(g, { authorization: `Bearer ${expired}` })).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsHandshake(g, { authorization: await sign({ sub: 'user-42' }) })).toEqual({ acked: true });
    const client = wsClient(g, { authorization: `Bearer ${await sign({ sub: 'user-42' })}` });
    cleanups.push(() => client.dispose());
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    const { error, events } = await collect(client, UPDATED, { id: unknown }).done;
    const errors = (error as { extensions?: { code?: string } }[] | undefined) ?? events[0]?.errors;
    expect(errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('AUTH_MODE=jwt with JWT_JWKS_URL', () => {
  let g: Gateway;
  let jwksServer: Server;
  let signingKey: CryptoKey;
  let strangerKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json')
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end();
    });
    jwksServer.listen(0, '127.0.0.1');
    await once(jwksServer, 'listening');
    cleanups.push(() => new Promise((r) => jwksServer.close(r)));
    const port = (jwksServer.address() as AddressInfo).port;
    g = await gateway({
      AUTH_MODE: 'jwt',
      JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      JWT_AUDIENCE: 'ai-edit',
    });
  });
  const sign = (key: CryptoKey, claims: Record<string, unknown>, aud = 'ai-edit', exp: string | number = '5m') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setAudience(aud)
      .setExpirationTime(exp)
      .sign(key);

  it('accepts a token signed with a key from the JWKS', async () => {
    const res = await post(g, LIST, bearer(await sign(signingKey, { sub: 'jwks-user' })));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it('refuses a forged (other key, same kid), expired or wrong-audience token, and an HS256 token made with the public key', async () => {
    expectRefused(await post(g, LIST, bearer(await sign(strangerKey, { sub: 'jwks-user' }))));
    expectRefused(
      await post(
        g,
        LIST,
        bearer(await sign(signingKey, { sub: 'jwks-user' }, 'ai-edit', Math.floor(Date.now() / 1000) - 60)),
      ),
    );
    expectRefused(await post(g, LIST, bearer(await sign(signingKey, { sub: 'jwks-user' }, 'other'))));
    const hs = await new SignJWT({ sub: 'jwks-user' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setAudience('ai-edit')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    expectRefused(await post(g, LIST, bearer(hs)));
  });
});

describe('a caller named anonymous', () => {
  // Only AUTH_MODE=none makes the anonymous caller; a real caller that happens to carry the name must neither read
  // the jobs made without authentication nor be treated as unauthenticated.
  it('refuses an API key named anonymous at config load, with one line saying the name is reserved', async () => {
    let error: unknown;
    try {
      loadConfig({ AUTH_MODE: 'apikey', GATEWAY_API_KEYS: 'alice:alice-key-0001,anonymous:anonymous-key-01' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^Invalid GATEWAY_API_KEYS=.*entry 2: the name anonymous is reserved/);
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).not.toContain('anonymous-key-01');

    const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keysFile = join(dir, 'keys');
    writeFileSync(keysFile, 'anonymous:anonymous-key-01\n');
    await expect(gateway({ AUTH_MODE: 'apikey', GATEWAY_API_KEYS_FILE: keysFile })).rejects.toThrow(
      /the name anonymous is reserved/,
    );
  });

  it('refuses a JWT whose sub is anonymous with 403 FORBIDDEN, so it never reads jobs made under AUTH_MODE=none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-anonymous-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const DATABASE_URL = `sqlite:${join(dir, 'jobs.db')}`;
    const open = await gateway({ DATABASE_URL });
    const made = await post(open, SUBMIT, {}, { input: { input: INPUT, options: { prompt: 'add a duck' } } });
    expect(made.body.errors).toBeUndefined();
    expect((await post(open, LIST)).body.data.aiEditJobs.edges).toHaveLength(1);
    await open.stop();

    const g = await gateway({
      DATABASE_URL,
      AUTH_MODE: 'jwt',
      JWT_SECRET: SECRET,
      INTROSPECTION: 'authenticated',
    });
    const token = (sub: string) =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(SECRET));
    const res = await post(g, LIST, bearer(await token('anonymous')));
    expectRefused(res, 403, 'FORBIDDEN');
    expect(res.body.errors?.[0]?.message).toMatch(/anonymous.*reserved/);
    // Any other subject is an authenticated caller: it may introspect, and sees only its own (no) jobs.
    const other = bearer(await token('anonymous-user'));
    expect((await post(g, LIST, other)).body).toEqual({ data: { aiEditJobs: { edges: [] } } });
    expect((await post(g, '{ __schema { queryType { name } } }', other)).body).toEqual({
      data: { __schema: { queryType: { name: 'Query' } } },
    });
  });
});
