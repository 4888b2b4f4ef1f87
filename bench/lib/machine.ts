import { cpus, loadavg, release, totalmem } from 'node:os';

export function machineInfo() {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    totalMemMB: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    kernel: release(),
    loadavg: loadavg().map((v) => Math.round(v * 100) / 100),
    date: new Date().toISOString(),
  };
}
