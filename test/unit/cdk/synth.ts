/**
 * Synthesizes the stack for a test, without bundling (no esbuild run per test; `npx cdk synth` in scripts/test.sh
 * covers bundling), and helpers to read the template.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Validations, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENVIRONMENT_CONFIG, type EnvironmentConfig } from '../../../lib/config';
import { stackName, type EnvName } from '../../../lib/environments';
import { VoiceAgentStack } from '../../../lib/voice-agent-stack';

export type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: string[] };

const stacks = new WeakMap<Template, VoiceAgentStack>();

export function synth(envName: EnvName, config: Partial<EnvironmentConfig> = {}, accountConcurrency?: number): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new VoiceAgentStack(app, stackName(envName), { envName, config: { ...ENVIRONMENT_CONFIG[envName], ...config }, accountConcurrency });
  const template = Template.fromStack(stack);
  stacks.set(template, stack);
  return template;
}

export const stackOf = (t: Template) => stacks.get(t)!;

export const resources = (t: Template, type: string) => Object.entries(t.findResources(type) as Record<string, Resource>);

/** Logical id of the Lambda function built for spec `<name>` (the construct `Functions/<name>`). */
export function functionIdByName(t: Template, name: string): string {
  const stack = stackOf(t);
  const fn = stack.node.findChild('Functions').node.findChild(name);
  const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
  if ((t.toJSON().Resources[id] as Resource | undefined)?.Type !== 'AWS::Lambda::Function') throw new Error(`${name}: no function ${id}`);
  return id;
}

export const functionOf = (t: Template, name: string) => t.toJSON().Resources[functionIdByName(t, name)] as Resource;

/** Fn::GetAtt / Ref targets anywhere in a value: the logical ids it references. */
export function referencedIds(value: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o['Fn::GetAtt'])) found.push(String((o['Fn::GetAtt'] as unknown[])[0]));
      if (typeof o.Ref === 'string') found.push(o.Ref);
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return found;
}

export interface NagViolation {
  readonly rule: string;
  readonly paths: readonly string[];
}

/**
 * Runs cdk-nag's AwsSolutions pack the way bin/app.ts does and returns what it reports (acknowledged findings are
 * not reported). `tamper` may change the stack first, to prove the check is live.
 */
export function nagViolations(envName: EnvName, tamper?: (stack: VoiceAgentStack) => void, config: Partial<EnvironmentConfig> = {}): NagViolation[] {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nag-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new VoiceAgentStack(app, stackName(envName), { envName, config: { ...ENVIRONMENT_CONFIG[envName], ...config } });
    tamper?.(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    try {
      app.synth();
    } catch {
      // A failing validation throws in some app modes; the report below has the findings either way.
    }
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
    };
    return report.pluginReports.flatMap((p) => p.violations.map((v) => ({ rule: v.ruleName, paths: v.violatingConstructs.map((c) => c.constructPath) })));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
