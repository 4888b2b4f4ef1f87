import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let upstream: TestUpstream | undefined;
afterAll(async () => upstream?.close());

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

describe('the gateway process', () => {
  it('on SIGTERM stops accepting, finishes the request in flight and exits 0', async () => {
    upstream = await startTestUpstream();
    upstream.enqueue(
      async (req) => {
        await new Promise((r) => setTimeout(r, 700));
        return upstream!.fakeClaid(req);
      },
      { method: 'POST' },
    );
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        PORT: String(port),
        CLAID_API_KEY: 'test-key',
        CLAID_API_URL: upstream.url,
        DATABASE_URL: 'sqlite::memory:',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!output.includes('gateway listening')) {
      if (Date.now() > deadline) throw new Error(`gateway did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const inFlight = fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation { submitAiEdit(input: {input: "https://e.com/a.jpg", options: {prompt: "add a duck"}}) { job { status } } }',
      }),
    });
    await upstream.waitForRequests(1);
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(await res.json()).toEqual({ data: { submitAiEdit: { job: { status: 'ACCEPTED' } } } });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('gateway stopped');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it('refuses a bad configuration with one line naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, POLL_INTERVAL_MS: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/POLL_INTERVAL_MS/);
  });
});
