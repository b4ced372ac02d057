/**
 * Source of one execution environment (run with `new Worker(ENVIRONMENT_WORKER_SOURCE, { eval: true })`).
 *
 * Kept as plain CommonJS text so the worker starts the same way under node, tsx and jest (no TypeScript
 * loader inside the worker, exactly as on Lambda where only the bundle runs).
 *
 * Protocol (host <-> environment):
 *  - workerData: { port, ctrl, bundlePath, handlerExport, functionName, functionVersion, memoryMb,
 *                  invokedFunctionArn, logGroupName, logStreamName }
 *  - ctrl is a SharedArrayBuffer: Int32 at byte 0 is the wake signal, Int32 at byte 4 is set to 1 once the
 *    invocation's response is posted (the host may then take it from the port at once, without waiting for the
 *    port's event: the environment is free from then on, as Lambda's is once its response is sent), Float64 at
 *    byte 8 the deadline (epoch ms) of the invocation being delivered.
 *  - The environment posts on `port`:
 *      [MSG_READY]                               init done (module loaded, handler found)
 *      [MSG_INIT_ERROR, errorType, errorMessage] init failed; the environment exits
 *      [MSG_RESULT, payload]                     invocation succeeded
 *      [MSG_ERROR, errorType, errorMessage]      handler threw/rejected; environment survives
 *      [MSG_FATAL, errorType, errorMessage]      uncaught exception / unhandled rejection; exits
 *      [MSG_THREAD, tid]                         first, before init: the OS thread id of this environment
 *                                                (Linux, /proc/thread-self; undefined elsewhere), so tools can
 *                                                attribute per-thread CPU (tools/cpu-breakdown.ts)
 *  - After init and after every invocation the environment FREEZES: Atomics.wait on the signal, so none
 *    of its timers, I/O callbacks or pending promises make progress (Lambda freezes the sandbox between
 *    invocations). The host posts the event on `port`, then sets the signal and Atomics.notify; the
 *    environment takes the event with receiveMessageOnPort (synchronously) and runs the handler.
 */

export const MSG_READY = 0;
export const MSG_INIT_ERROR = 1;
export const MSG_RESULT = 2;
export const MSG_ERROR = 3;
export const MSG_FATAL = 4;
export const MSG_THREAD = 5;

export const ENVIRONMENT_WORKER_SOURCE = String.raw`
'use strict';
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { randomUUID } = require('node:crypto');
const util = require('node:util');

const MSG_READY = ${MSG_READY}, MSG_INIT_ERROR = ${MSG_INIT_ERROR}, MSG_RESULT = ${MSG_RESULT},
  MSG_ERROR = ${MSG_ERROR}, MSG_FATAL = ${MSG_FATAL}, MSG_THREAD = ${MSG_THREAD};
const wd = workerData;
const port = wd.port;
{
  let tid;
  try { tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); } catch (_) { /* not Linux */ }
  port.postMessage([MSG_THREAD, tid]);
}
const signal = new Int32Array(wd.ctrl, 0, 1);
const responded = new Int32Array(wd.ctrl, 4, 1);
const deadlineCell = new Float64Array(wd.ctrl, 8, 1);
const memoryLimitInMB = String(wd.memoryMb);

let currentRequestId = undefined;

// --- console: Lambda's Node runtime (text log format) prefixes every line and keeps multi-line
// messages in one log event by turning '\n' into '\r'.
function patchConsole() {
  const out = process.stdout;
  const make = (level) => function () {
    const msg = util.format.apply(null, arguments).replace(/\n/g, '\r');
    out.write(new Date().toISOString() + '\t' + currentRequestId + '\t' + level + '\t' + msg + '\n');
  };
  console.log = make('INFO');
  console.info = make('INFO');
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.debug = make('DEBUG');
  console.trace = make('TRACE');
  console.fatal = make('FATAL');
}
patchConsole();

function errorType(e) {
  if (e instanceof Error) return e.name || (e.constructor && e.constructor.name) || 'Error';
  return typeof e;
}
function errorMessage(e) {
  if (e instanceof Error) return String(e.message);
  try { return String(e); } catch (_) { return 'unknown'; }
}
function errorJson(e) {
  return JSON.stringify({
    errorType: errorType(e),
    errorMessage: errorMessage(e),
    stack: e instanceof Error && typeof e.stack === 'string' ? e.stack.split('\n') : [],
  });
}

// --- fatal errors: Lambda's Node runtime reports them and exits the runtime process.
let dying = false;
function fatal(type, err, code) {
  if (dying) return;
  dying = true;
  try {
    const name = type === 'Runtime.UnhandledPromiseRejection' && err instanceof Error ? err.name + ': ' + err.message : errorMessage(err);
    console.error(type === 'Runtime.UnhandledPromiseRejection' ? 'Unhandled Promise Rejection' : 'Uncaught Exception', '\t' + errorJson(err));
    port.postMessage([MSG_FATAL, type, name]);
  } catch (_) { /* nothing more to do */ }
  process.exit(code);
}
process.on('uncaughtException', (err) => fatal('Runtime.UncaughtException', err, 129));
process.on('unhandledRejection', (reason) => fatal('Runtime.UnhandledPromiseRejection', reason, 128));

// --- init
// CommonJS bundles load with require; ES module bundles (index.mjs) with import(), which also awaits their
// top-level await — as Lambda's Node runtime does, so init can prime clients before the first invocation.
let handler;
let useCallback = false;
function initFailed(e) {
  let type = errorType(e);
  if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') && !handler) type = 'Runtime.ImportModuleError';
  dying = true;
  try {
    console.error('INIT_ERROR\t' + errorJson(e));
    port.postMessage([MSG_INIT_ERROR, type, errorMessage(e)]);
  } catch (_) { /* ignore */ }
  process.exit(1);
}
function useModule(mod) {
  handler = mod == null ? undefined : mod[wd.handlerExport];
  if (typeof handler !== 'function') {
    const e = new Error('index.' + wd.handlerExport + ' is undefined or not exported');
    e.name = 'Runtime.HandlerNotFound';
    throw e;
  }
  useCallback = handler.length >= 3;
}

// --- invoke loop
let active = 0; // sequence number of the invocation in flight, 0 when none
let seq = 0;

function flushThenFreeze() {
  // Lambda's runtime posts the response and asks for the next event asynchronously, so microtasks,
  // process.nextTick and unhandled-rejection processing still run before the freeze; timers do not.
  setImmediate(() => {
    let n = 0;
    const done = () => { if (++n === 2) freeze(); };
    const s1 = process.stdout, s2 = process.stderr;
    if (s1.writableLength > 0) s1.write('', done); else done();
    if (s2.writableLength > 0) s2.write('', done); else done();
  });
}

function freeze() {
  if (dying) return;
  for (;;) {
    Atomics.wait(signal, 0, 0);
    Atomics.store(signal, 0, 0);
    const m = receiveMessageOnPort(port);
    if (m !== undefined) { invoke(m.message); return; }
  }
}

function finish(id, kind, a, b) {
  if (active !== id || dying) return;
  active = 0;
  currentRequestId = undefined;
  if (kind === MSG_RESULT) {
    try {
      port.postMessage([MSG_RESULT, a === undefined ? null : a]);
    } catch (e) {
      // Lambda serializes the response with JSON.stringify; only fall back to it when needed.
      let payload;
      try { payload = JSON.parse(JSON.stringify(a)); } catch (e2) {
        port.postMessage([MSG_ERROR, 'Runtime.MalformedResponse', errorMessage(e2)]);
        Atomics.store(responded, 0, 1);
        flushThenFreeze();
        return;
      }
      port.postMessage([MSG_RESULT, payload === undefined ? null : payload]);
    }
  } else {
    port.postMessage([MSG_ERROR, a, b]);
  }
  Atomics.store(responded, 0, 1);
  flushThenFreeze();
}

function fail(id, e) {
  if (active !== id) return;
  console.error('Invoke Error \t' + errorJson(e));
  finish(id, MSG_ERROR, errorType(e), errorMessage(e));
}

function invoke(event) {
  const id = ++seq;
  active = id;
  const deadline = deadlineCell[0];
  const requestId = randomUUID();
  currentRequestId = requestId;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: wd.functionName,
    functionVersion: wd.functionVersion,
    invokedFunctionArn: wd.invokedFunctionArn,
    memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: wd.logGroupName,
    logStreamName: wd.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, Math.round(deadline - Date.now())),
  };
  let r;
  try {
    if (useCallback) {
      r = handler(event, context, (err, result) => {
        if (err !== undefined && err !== null) fail(id, err); else finish(id, MSG_RESULT, result);
      });
    } else {
      r = handler(event, context);
    }
  } catch (e) {
    fail(id, e);
    return;
  }
  if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
    r.then((v) => finish(id, MSG_RESULT, v), (e) => fail(id, e));
  } else if (!useCallback) {
    finish(id, MSG_RESULT, r);
  }
}

function ready() {
  port.postMessage([MSG_READY]);
  flushThenFreeze();
}
if (/\.mjs$/.test(wd.bundlePath)) {
  import(require('node:url').pathToFileURL(wd.bundlePath).href).then((mod) => {
    try { useModule(mod); } catch (e) { initFailed(e); return; }
    ready();
  }, initFailed);
} else {
  try { useModule(require(wd.bundlePath)); } catch (e) { initFailed(e); }
  if (!dying) ready();
}
`;
