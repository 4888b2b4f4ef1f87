import { readFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';

// One benchmark server process, started by bench/lib/child.ts (pinned to a core) and driven over IPC:
//   gateway    the real gateway (startGateway), configured by its environment like `npm start`
//   simulator  the Claid simulator (startSimulator) with the options passed in BENCH_CHILD_ARGS
//   yoga       a bare graphql-yoga server answering aiEditJob from memory (bench/baselines/yoga.ts)
//   raw        node:http + graphql-js with cached parse and validate (bench/baselines/raw.ts)
//   subscribers  a load-generator process of graphql-ws subscribers (bench/lib/subscriber-child.ts)

type Handler = (args: any) => unknown;

/** dist/ as `npm start` runs it (bench/lib/dist.ts builds it first), or src/ through tsx with BENCH_FROM_SOURCE=1. */
const CODE = process.env.BENCH_FROM_SOURCE === '1' ? '../src' : '../dist';
/**
 * BENCH_BASELINE_DIST=<dir>: the gateway children of this process run another build's dist/ (an earlier commit's,
 * built in a worktree), so that a figure can be set against the code it is to be compared with in the same run on
 * the same machine (bench/README.md, "A baseline build"). The simulator and the load generator stay this checkout's.
 */
const GATEWAY_CODE = process.env.BENCH_BASELINE_DIST ?? CODE;

const mode = process.argv[2];
const args = JSON.parse(process.env.BENCH_CHILD_ARGS ?? '{}') as Record<string, any>;
const handlers: Record<string, Handler> = {};
let stopServer: () => Promise<void> = async () => undefined;

function memory() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    vmRss: kb('VmRSS'),
    vmHwm: kb('VmHWM'),
    gc: Boolean(gc),
  };
}
handlers.memory = () => memory();
handlers.cpu = () => ({ ...process.cpuUsage(), uptimeMs: process.uptime() * 1000 });

async function main(): Promise<Record<string, unknown>> {
  switch (mode) {
    case 'gateway': {
      const { startGateway } = (await import(
        `${GATEWAY_CODE}/gateway/build-gateway.js`
      )) as typeof import('../src/gateway/build-gateway.js');
      const { loadConfig } = (await import(
        `${GATEWAY_CODE}/gateway/config.js`
      )) as typeof import('../src/gateway/config.js');
      const config = loadConfig(process.env);
      const gateway = await startGateway(config);
      stopServer = () => gateway.stop();
      // A baseline build from before `internals` kept these on the gateway itself.
      const internals = gateway.internals ?? (gateway as unknown as typeof gateway.internals);
      handlers.budget = () => internals.budget.stats();
      // Learn job durations from the store now rather than at the next minute's refresh (arrivals' warm-up).
      handlers.relearn = () => internals.durations.refresh();
      handlers.poller = () => {
        const { readsByJob, ...rest } = internals.poller.stats();
        return { ...rest, readsByJob: Object.fromEntries(readsByJob) };
      };
      return { url: gateway.url, simulatorUrl: internals.simulator?.url };
    }
    case 'simulator': {
      const { startSimulator } = (await import(
        `${CODE}/simulator/server.js`
      )) as typeof import('../src/simulator/server.js');
      // Count what the simulator answers, 429s included, at the source.
      const byStatus = new Map<number, number>();
      const writeHead = ServerResponse.prototype.writeHead;
      ServerResponse.prototype.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        return (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
      } as typeof writeHead;
      const { durationPlanner } = await import('./lib/durations.js');
      const sim = await startSimulator({
        stepMs: args.stepMs ?? 1500,
        rateLimit: args.rateLimit ?? false,
        generationLimit: args.generationLimit ?? false,
        // Per-task times drawn from a distribution (the arrivals scenario); else the stepMs walk.
        ...(args.durations ? { taskPlanner: durationPlanner(args.durations) } : {}),
      });
      stopServer = () => sim.close();
      handlers.stats = () => ({
        submits: sim.stats.submits,
        reads: sim.stats.reads,
        readsByTask: Object.fromEntries(sim.stats.readsByTask),
        webhooks: sim.stats.webhooks,
        rateLimited: Object.fromEntries(sim.stats.rateLimited),
        byStatus: Object.fromEntries(byStatus),
      });
      handlers.finishedAt = (taskIds: number[]) => Object.fromEntries(taskIds.map((id) => [id, sim.finishedAt(id)]));
      handlers.setWebhook = (target: { url: string; secret?: string } | undefined) => sim.control.setWebhook(target);
      handlers.reset = () => {
        sim.control.reset();
        byStatus.clear();
      };
      handlers.setStepMs = (ms: number) => sim.control.setStepMs(ms);
      return { url: sim.url, apiKey: sim.apiKey, sampleUrl: sim.sampleUrl() };
    }
    case 'yoga': {
      const { startBareYoga } = await import('./baselines/yoga.js');
      const server = await startBareYoga(args.jobs);
      stopServer = server.close;
      return { url: server.url };
    }
    case 'subscribers': {
      const { subscriberHandlers } = await import('./lib/subscriber-child.js');
      Object.assign(handlers, subscriberHandlers);
      return {};
    }
    case 'raw': {
      const { startRawGraphQL } = await import('./baselines/raw.js');
      const server = await startRawGraphQL(args.jobs);
      stopServer = server.close;
      return { url: server.url };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

handlers.stop = async () => {
  await stopServer();
  setImmediate(() => process.exit(0));
};

process.on('message', (msg: any) => {
  if (msg?.type !== 'call') return;
  const handler = handlers[msg.cmd];
  Promise.resolve()
    .then(() => {
      if (!handler) throw new Error(`unknown command ${msg.cmd}`);
      return handler(msg.args);
    })
    .then(
      (result) => process.send!({ type: 'reply', id: msg.id, cmd: msg.cmd, ok: true, result }),
      (error: unknown) =>
        process.send!({
          type: 'reply',
          id: msg.id,
          cmd: msg.cmd,
          ok: false,
          error: error instanceof Error ? error.stack : String(error),
        }),
    );
});
process.on('disconnect', () => {
  void stopServer().finally(() => process.exit(0));
});

main().then(
  (info) => process.send!({ type: 'ready', info }),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
