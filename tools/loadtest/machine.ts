/** Samples the machine once a second: whole-machine CPU (from /proc/stat), memory, and the RSS of a process tree. */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import type { MachineSample } from './report-types';

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** RSS (MB) of `root` and all its descendants. */
export function treeRssMb(root = process.pid): number {
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
      rss.set(Number(name), (Number(fields[21]) * 4096) / 1024 / 1024);
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  for (const pid of rss.keys()) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        total += rss.get(pid)!;
        break;
      }
    }
  }
  return total;
}

export class MachineSampler {
  readonly samples: MachineSample[] = [];
  private timer?: NodeJS.Timeout;
  private last = cpuTimes();
  private readonly started = performance.now();

  start(everyMs = 1000): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    return this;
  }

  stop(): MachineSample[] {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.samples;
  }

  private sample(): void {
    const now = cpuTimes();
    const dt = now.total - this.last.total;
    const cpuPercent = dt > 0 ? (100 * (now.busy - this.last.busy)) / dt : 0;
    this.last = now;
    const mem = readFileSync('/proc/meminfo', 'utf8');
    const availableKb = Number(/MemAvailable:\s+(\d+)/.exec(mem)?.[1] ?? 0);
    this.samples.push({
      t: Math.round((performance.now() - this.started) / 100) / 10,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      memUsedMb: Math.round(os.totalmem() / 1024 / 1024 - availableKb / 1024),
      stackRssMb: Math.round(treeRssMb()),
    });
  }
}
