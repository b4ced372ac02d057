/** The functions' tracer: with tracing off (the local stack) the X-Ray SDK must not hook every promise. */
import type { Tracer } from '@aws-lambda-powertools/tracer';

const VARS = ['POWERTOOLS_TRACE_ENABLED', 'AWS_XRAY_MANUAL_MODE'] as const;

function loadTracer(env: Partial<Record<(typeof VARS)[number], string>>): { tracer: Tracer; namespace: unknown; manualMode: string | undefined } {
  const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
  for (const k of VARS) delete process.env[k];
  Object.assign(process.env, env);
  const namespaces = (process as unknown as { namespaces?: Record<string, unknown> }).namespaces;
  if (namespaces) delete namespaces.AWSXRay;
  try {
    let tracer!: Tracer;
    jest.isolateModules(() => ({ tracer } = require('../../functions/lambda/observability')));
    return {
      tracer,
      namespace: (process as unknown as { namespaces?: Record<string, unknown> }).namespaces?.AWSXRay,
      manualMode: process.env.AWS_XRAY_MANUAL_MODE,
    };
  } finally {
    for (const k of VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

describe("the functions' tracer", () => {
  it('with POWERTOOLS_TRACE_ENABLED=false, loads X-Ray in manual mode: no async hooks (cls-hooked namespace) on every promise', () => {
    const { tracer, namespace, manualMode } = loadTracer({ POWERTOOLS_TRACE_ENABLED: 'false' });
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(manualMode).toBe('true');
    expect(namespace).toBeFalsy();
  });

  it('with tracing on (AWS: the variable unset), X-Ray runs in its automatic mode, as before', () => {
    const { namespace, manualMode } = loadTracer({});
    expect(manualMode).toBeUndefined();
    expect(namespace).toBeTruthy();
  });
});

describe("the functions' logger keys", () => {
  it("every line an invocation writes carries its callId, route and correlation_id, and no other invocation's", async () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      let routeHandler!: typeof import('../../functions/lambda/route-handler').routeHandler;
      let logger!: typeof import('../../functions/lambda/observability').logger;
      jest.isolateModules(() => {
        ({ routeHandler } = require('../../functions/lambda/route-handler'));
        ({ logger } = require('../../functions/lambda/observability'));
      });
      const handler = routeHandler('media', async (event) => {
        if (event.body === 'log') logger.info('handled');
        return { statusCode: 200 };
      });
      const context = { functionName: 'media', awsRequestId: 'b9c68b8a-24dd-4b3c-90a6-6b171247bead', getRemainingTimeInMillis: () => 1000 } as never;
      const invoke = (connectionId: string, body: string) =>
        handler({ requestContext: { connectionId, routeKey: 'media', requestTimeEpoch: Date.now() }, body } as never, context);
      await invoke('Aaaaaaaaaaaaaaa=', 'quiet'); // writes nothing: its keys must not leak into the next invocation
      await invoke('Bbbbbbbbbbbbbbb=', 'log');
      logger.info('between invocations');
      const lines = written.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const handled = lines.find((l) => l.message === 'handled')!;
      expect(handled).toMatchObject({ callId: 'Bbbbbbbbbbbbbbb=', route: 'media', correlation_id: 'Bbbbbbbbbbbbbbb=' });
      const between = lines.find((l) => l.message === 'between invocations')!;
      expect(between.callId).toBeUndefined();
      expect(between.correlation_id).toBeUndefined();
      expect(JSON.stringify(lines)).not.toContain('Aaaaaaaaaaaaaaa=');
    } finally {
      spy.mockRestore();
    }
  });
});
