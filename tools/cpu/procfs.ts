/**
 * CPU time of threads and process trees from Linux's /proc (tools/cpu-breakdown.ts).
 *
 * Threads: `/proc/<pid>/task/<tid>/schedstat`, whose first field is the time the thread ran, in nanoseconds (stat's
 * utime/stime tick at 10 ms, too coarse for a thread that runs 1 % of a 10 s window); stat is the fallback.
 * Processes: utime + stime + cutime + cstime of every process of the tree (ticks), so a helper's own children (the
 * speech process's recognizers) count with it.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_NS = 1e9 / 100; // USER_HZ is 100 on Linux

function statFields(path: string): string[] | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name, which may hold spaces: [0] is field 3 (state).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU time one thread has run, in ns; undefined when it is gone. */
export function threadCpuNs(pid: number, tid: number): number | undefined {
  try {
    const schedstat = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
    return Number(schedstat.split(' ')[0]);
  } catch {
    const f = statFields(`/proc/${pid}/task/${tid}/stat`);
    return f === undefined ? undefined : (Number(f[11]) + Number(f[12])) * TICK_NS;
  }
}

/** The live threads of a process. */
export function threadIds(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** CPU time (ns) of every live thread of a process, by tid. */
export function threadTimes(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of threadIds(pid)) {
    const ns = threadCpuNs(pid, tid);
    if (ns !== undefined) out.set(tid, ns);
  }
  return out;
}

/** pid → parent pid of every process on the machine. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(`/proc/${name}/stat`);
    if (f !== undefined) out.set(Number(name), Number(f[1]));
  }
  return out;
}

/** `root` and all its descendants. */
export function processTree(root: number): number[] {
  const ppid = parents();
  const tree: number[] = [];
  for (const pid of ppid.keys()) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = ppid.get(p)) {
      if (p === root) {
        tree.push(pid);
        break;
      }
    }
  }
  return tree;
}

/** The direct children of a process. */
export function childrenOf(pid: number): number[] {
  return [...parents()].flatMap(([child, parent]) => (parent === pid ? [child] : []));
}

/** CPU time (ns) of one process with its waited-for children: utime + stime + cutime + cstime. */
export function processCpuNs(pid: number): number | undefined {
  const f = statFields(`/proc/${pid}/stat`);
  if (f === undefined) return undefined;
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_NS;
}

/** CPU time (ns) of each process of a tree, by pid (a process that started later counts from 0). */
export function treeTimes(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of processTree(root)) {
    const ns = processCpuNs(pid);
    if (ns !== undefined) out.set(pid, ns);
  }
  return out;
}

/** Sum over `after` of (after − before), a key missing from `before` counting from 0. */
export function deltaSum(before: Map<number, number>, after: Map<number, number>, keys: Iterable<number> = after.keys()): number {
  let sum = 0;
  for (const k of keys) {
    const a = after.get(k);
    if (a === undefined) continue;
    sum += a - (before.get(k) ?? 0);
  }
  return sum;
}
