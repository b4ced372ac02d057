/**
 * A V8 CPU profile of this process's main thread (node:inspector, Profiler domain), summarized by source folder:
 * which share of the main thread goes to the gateway, the runtime, the callers, ws, Node's internals, GC.
 *
 * Two views of the same samples:
 *  - `owner`: the nearest frame of this repository's own code (local/…, tools/…, functions/…) on the sample's stack,
 *    from the leaf up, so time spent in a library or a Node builtin on behalf of the gateway counts as the gateway's;
 *    a stack with none (a socket read inside ws before it emits, a timer list walk) goes to its leaf's category.
 *  - `self`: the leaf frame's category (where the CPU actually burned).
 */
import { Session, type Profiler, type Runtime } from 'node:inspector';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface ProfileSummary {
  /** Sampled time, ms (the profile's wall time minus idle). */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly samples: number;
  /** Share of busy time, by category (0..1). */
  readonly owner: Record<string, number>;
  readonly self: Record<string, number>;
  /** The hottest leaf functions: `category function (file:line)` → share of busy time. */
  readonly topFunctions: Record<string, number>;
}

/** Category of one call frame: a repository folder, a package, a Node builtin group, or V8's pseudo-frames. */
export function categoryOf(frame: Runtime.CallFrame): { name: string; own: boolean } {
  const url = frame.url;
  if (url === '') {
    const f = frame.functionName;
    if (f === '(garbage collector)') return { name: '(gc)', own: false };
    if (f === '(program)') return { name: '(program: native, unattributed)', own: false };
    if (f === '(idle)' || f === '(root)') return { name: f, own: false };
    return { name: '(v8 builtins)', own: false };
  }
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?(?:deps\/)?([^/]+)/.exec(url);
    return { name: `node:${m?.[1] ?? url}`, own: false };
  }
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (nm) return { name: `node_modules/${nm[1]}`, own: false };
  if (file.startsWith(ROOT + '/')) {
    const parts = path.relative(ROOT, file).split('/');
    const folder = parts.length > 2 ? parts.slice(0, 2).join('/') : parts.length === 2 ? parts[0]! + '/' + parts[1]! : parts[0]!;
    return { name: folder, own: true };
  }
  return { name: 'other', own: false };
}

export async function profileMainThread(ms: number, samplingIntervalUs = 250): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await post('Profiler.start');
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = await post<{ profile: Profiler.Profile }>('Profiler.stop');
    await post('Profiler.disable');
    return summarize(profile);
  } finally {
    session.disconnect();
  }
}

export function summarize(profile: Profiler.Profile): ProfileSummary {
  const byId = new Map<number, Profiler.ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Owner category of every node, memoized: its own if it is repository code, else its parent's owner (or none).
  const ownerMemo = new Map<number, string | null>();
  const ownerOf = (id: number): string | null => {
    const known = ownerMemo.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const cat = categoryOf(node.callFrame);
    const p = parent.get(id);
    const owner = cat.own ? cat.name : p === undefined ? null : ownerOf(p);
    ownerMemo.set(id, owner);
    return owner;
  };
  const owner: Record<string, number> = {};
  const self: Record<string, number> = {};
  const fns: Record<string, number> = {};
  let busy = 0;
  let idle = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the sample stands for the interval up to the next one.
    const dt = (deltas[i + 1] ?? 0) / 1000;
    const node = byId.get(samples[i]!)!;
    const cat = categoryOf(node.callFrame);
    if (cat.name === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    self[cat.name] = (self[cat.name] ?? 0) + dt;
    const o = ownerOf(node.id) ?? cat.name;
    owner[o] = (owner[o] ?? 0) + dt;
    const f = node.callFrame;
    const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${cat.name} ${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    fns[key] = (fns[key] ?? 0) + dt;
  }
  const share = (r: Record<string, number>, top = Infinity) =>
    Object.fromEntries(
      Object.entries(r)
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, v]) => [k, busy > 0 ? v / busy : 0]),
    );
  return { busyMs: busy, idleMs: idle, samples: samples.length, owner: share(owner), self: share(self), topFunctions: share(fns, 25) };
}
