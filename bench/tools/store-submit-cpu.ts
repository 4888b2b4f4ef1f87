import { resolve } from 'node:path';

// CPU of one submit's calls to the SQLite store (the two per-caller reads, insertQueued, the answer), in this
// process, for stores whose caller already has `history` jobs of today (80 % DONE, 10 % ERROR, 10 % PROCESSING).
// Several versions of the store run alternating in chunks, so that they see the same machine:
//   node --import tsx bench/tools/store-submit-cpu.ts [history=5000] [label=path/to/sqlite-job-store.ts ...]
// e.g. an older version: mkdir -p /tmp/old && git archive <rev> src | tar -x -C /tmp/old, run from a directory
// whose node_modules tsx can find (the worktree), and pass old=/tmp/old/src/services/store/sqlite-job-store.ts.

interface StoreLike {
  migrate(): Promise<void>;
  insert(job: unknown): Promise<unknown>;
  insertQueued(job: unknown): Promise<{ id: string }>;
  applyUpstreamState(id: string, state: unknown, at: Date, exact?: boolean, basis?: unknown): Promise<unknown>;
  countUnfinished(owner: string, atMost: number): Promise<number>;
  callers: { creditsSpent(owner: string, since: Date): Promise<number> };
}

const history = Number(process.argv[2] ?? 5000);
const versions: [string, string][] = process.argv.slice(3).map((arg) => arg.split('=') as [string, string]);
if (versions.length === 0)
  versions.push(['now', new URL('../../src/services/store/sqlite-job-store.ts', import.meta.url).pathname]);
const PER_CHUNK = 200;
const CHUNKS = 10;
const OWNER = 'anonymous';
const now = Date.now();
const dayStart = new Date(now - (now % 86_400_000));
const request = (prompt: string) => ({
  input: 'storage://bench-bucket/in.jpg',
  output: { format: 'jpeg', numberOfImages: 1 },
  options: { prompt },
});

const stores = new Map<string, StoreLike>();
for (const [label, path] of versions) {
  const { SqliteJobStore } = (await import(resolve(path))) as { SqliteJobStore: new (path: string) => StoreLike };
  const store = new SqliteJobStore(':memory:');
  await store.migrate();
  for (let i = 0; i < history; i++) {
    const at = new Date(Math.max(dayStart.getTime(), now - (history - i) * 10));
    const status = i < history * 0.8 ? 'DONE' : i < history * 0.9 ? 'ERROR' : 'PROCESSING';
    await store.insert({
      owner: OWNER,
      request: request(`history #${i}`),
      requestHash: `history-${i}`,
      idempotencyKey: null,
      at,
      upstream: {
        upstreamId: i,
        status,
        createdAt: at,
        errors: [],
        result: status === 'DONE' ? { inputObject: {}, outputObjects: [] } : null,
      },
    });
  }
  stores.set(label, store);
}

let n = 0;
async function submit(store: StoreLike): Promise<void> {
  await store.countUnfinished(OWNER, 100_000);
  await store.callers.creditsSpent(OWNER, dayStart);
  const at = new Date();
  n++;
  const job = await store.insertQueued({
    owner: OWNER,
    request: request(`add a duck #${n}`),
    requestHash: `submit-${n}`,
    idempotencyKey: null,
    at,
    sendStartedAt: at,
  });
  const state = { upstreamId: 1_000_000 + n, status: 'ACCEPTED', createdAt: at, errors: [], result: null };
  // The recorded job as the basis, as SubmitAnswers passes it (a version without the parameter ignores it).
  await store.applyUpstreamState(job.id, state, new Date(), true, job);
}

for (const store of stores.values()) for (let i = 0; i < 100; i++) await submit(store);
const cpuUs = new Map([...stores.keys()].map((label) => [label, 0]));
for (let chunk = 0; chunk < CHUNKS; chunk++) {
  for (const [label, store] of stores) {
    const before = process.cpuUsage();
    for (let i = 0; i < PER_CHUNK; i++) await submit(store);
    const spent = process.cpuUsage(before);
    cpuUs.set(label, cpuUs.get(label)! + spent.user + spent.system);
  }
}
const perSubmit = [...cpuUs].map(([label, us]) => `${label} ${Math.round(us / (PER_CHUNK * CHUNKS))} µs`);
console.log(`history ${history}: CPU per submit's store calls: ${perSubmit.join(', ')}`);
