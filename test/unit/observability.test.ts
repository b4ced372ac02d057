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
    jest.isolateModules(() => ({ tracer } = require('../../functions/shared/observability')));
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
