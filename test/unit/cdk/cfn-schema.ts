/**
 * A synthesized template checked offline against CloudFormation's resource schemas, as the CDK itself knows them:
 * `@aws-cdk/aws-service-spec` is the database of every resource type, property, type and allowed value that
 * aws-cdk-lib's L1 classes are generated from (imported from CloudFormation's registry schemas).
 *
 * What it checks: the template's sections; each resource's type (known to CloudFormation, or a custom resource), its
 * attributes (DependsOn targets, Condition, DeletionPolicy); its properties: names, required ones, types (with
 * CloudFormation's own coercion of scalars: a number where a string is expected, "5" for an integer) and allowed
 * values, recursively through nested types, arrays and maps; and references: `Ref`, `Fn::GetAtt` (the attribute must
 * exist on the target's type), `Fn::Sub` variables, conditions. An intrinsic function stands for a value of any type.
 * What it does not: the values of intrinsic functions, patterns and lengths, or anything only AWS knows at deploy time
 * (quotas, names already taken).
 */
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { PropertyType, Resource as SpecResource, ResourceProperties, TypeDefinition } from '@aws-cdk/service-spec-types';

export interface SchemaProblem {
  readonly path: string;
  readonly problem: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface CfnTemplate {
  readonly [section: string]: Json | undefined;
}

const SECTIONS = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'UpdatePolicy', 'CreationPolicy']);
const POLICIES = ['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate'];
const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
/** Types CloudFormation accepts that the registry database does not describe. */
const UNDESCRIBED = new Set(['AWS::CDK::Metadata']);

let spec: ReturnType<typeof loadAwsServiceSpecSync> | undefined;
const db = () => (spec ??= loadAwsServiceSpecSync());

/** The resource type as CloudFormation's schema has it, or undefined if CloudFormation has no such type. */
export function resourceSpec(type: string): SpecResource | undefined {
  return db().lookup('resource', 'cloudFormationType', 'equals', type)[0];
}

export function validateTemplate(template: CfnTemplate): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const report = (path: string, problem: string) => problems.push({ path, problem });
  const asObject = (v: Json | undefined): Record<string, Json> => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  for (const section of Object.keys(template)) if (!SECTIONS.has(section)) report(section, 'not a template section');
  const resources = asObject(template.Resources);
  const parameters = asObject(template.Parameters);
  const conditions = asObject(template.Conditions);
  if (Object.keys(resources).length === 0) report('Resources', 'a template needs at least one resource');

  /** An intrinsic function (one key, Ref or Fn::… or Condition): its references are checked; its value is any type. */
  const intrinsic = (value: Json, path: string): boolean => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    const keys = Object.keys(value);
    if (keys.length !== 1) return false;
    const [fn] = keys as [string];
    const arg = value[fn]!;
    if (fn === 'Ref') {
      if (typeof arg !== 'string') report(path, 'Ref takes a logical id');
      else if (!(arg in resources) && !(arg in parameters) && !PSEUDO.has(arg)) report(path, `Ref to ${arg}: no such resource, parameter or pseudo parameter`);
      return true;
    }
    if (fn === 'Condition') {
      if (typeof arg !== 'string' || !(arg in conditions)) report(path, `condition ${String(arg)} is not defined`);
      return true;
    }
    if (!fn.startsWith('Fn::')) return false;
    if (fn === 'Fn::GetAtt') {
      const [id, attribute] = Array.isArray(arg) ? arg : typeof arg === 'string' ? arg.split(/\.(.*)/s) : [];
      checkGetAtt(String(id), attribute, path);
    } else if (fn === 'Fn::Sub') {
      const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
      if (typeof text === 'string') {
        for (const [, name] of text.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
          if (name! in asObject(vars)) continue;
          const [id, attribute] = name!.split(/\.(.*)/s);
          if (attribute !== undefined) checkGetAtt(id!, attribute, path);
          else if (!(id! in resources) && !(id! in parameters) && !PSEUDO.has(id!)) report(path, `Fn::Sub variable \${${name}}: no such resource, parameter or pseudo parameter`);
        }
      }
      walkIntrinsics(vars ?? {}, `${path}.Fn::Sub`);
    } else {
      walkIntrinsics(arg, `${path}.${fn}`);
    }
    return true;
  };

  const checkGetAtt = (id: string, attribute: Json | undefined, path: string) => {
    const target = resources[id];
    if (!target) return report(path, `Fn::GetAtt on ${id}: no such resource`);
    const type = String(asObject(target).Type);
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource' || UNDESCRIBED.has(type)) return;
    const r = resourceSpec(type);
    if (r && typeof attribute === 'string' && !(attribute in r.attributes)) report(path, `Fn::GetAtt ${id}.${attribute}: ${type} has no attribute ${attribute}`);
  };

  /** References inside a value whose type is not checked (arguments of functions, JSON documents). */
  const walkIntrinsics = (value: Json, path: string) => {
    if (intrinsic(value, path)) return;
    if (Array.isArray(value)) value.forEach((v, i) => walkIntrinsics(v, `${path}[${i}]`));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walkIntrinsics(v, `${path}.${k}`);
  };

  /** Problems of `value` as `type` (empty when it fits), without reporting them: unions try each member. */
  const check = (value: Json, type: PropertyType, path: string): SchemaProblem[] => {
    const out: SchemaProblem[] = [];
    const fail = (problem: string) => out.push({ path, problem });
    const before = problems.length;
    if (intrinsic(value, path)) {
      out.push(...problems.splice(before));
      return out;
    }
    switch (type.type) {
      case 'string':
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') fail(`expected a string, got ${describe(value)}`);
        else if (type.allowedValues && !type.allowedValues.includes(String(value))) fail(`${JSON.stringify(value)} is not one of ${type.allowedValues.join(', ')}`);
        break;
      case 'date-time':
        if (typeof value !== 'string') fail(`expected a date-time string, got ${describe(value)}`);
        break;
      case 'number':
      case 'integer': {
        const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
        if (!Number.isFinite(n) || (type.type === 'integer' && !Number.isInteger(n))) fail(`expected ${type.type === 'integer' ? 'an integer' : 'a number'}, got ${describe(value)}`);
        else if (type.type === 'integer' && type.allowedValues && !type.allowedValues.includes(n)) fail(`${n} is not one of ${type.allowedValues.join(', ')}`);
        break;
      }
      case 'boolean':
        if (typeof value !== 'boolean' && value !== 'true' && value !== 'false') fail(`expected a boolean, got ${describe(value)}`);
        break;
      case 'json':
        walkIntrinsics(value, path);
        out.push(...problems.splice(before));
        break;
      case 'null':
        if (value !== null) fail(`expected null, got ${describe(value)}`);
        break;
      case 'tag':
        out.push(...checkObject(value, { Key: { type: { type: 'string' }, required: true }, Value: { type: { type: 'string' }, required: true } }, path));
        break;
      case 'ref':
        out.push(...checkObject(value, (db().get('typeDefinition', type.reference) as TypeDefinition).properties, path));
        break;
      case 'array':
        if (!Array.isArray(value)) fail(`expected a list, got ${describe(value)}`);
        else value.forEach((v, i) => out.push(...check(v, type.element, `${path}[${i}]`)));
        break;
      case 'map':
        if (!value || typeof value !== 'object' || Array.isArray(value)) fail(`expected a map, got ${describe(value)}`);
        else for (const [k, v] of Object.entries(value)) out.push(...check(v, type.element, `${path}.${k}`));
        break;
      case 'union': {
        // The database widens some types with a JSON alternative (KeySchema: a list of key elements, or an object);
        // a list is held to the list members, so the JSON escape hatch does not swallow a broken list.
        const members = Array.isArray(value) && type.types.some((t) => t.type === 'array') ? type.types.filter((t) => t.type === 'array') : type.types;
        const tries = members.map((t) => check(value, t, path));
        const fits = tries.find((t) => t.length === 0);
        if (!fits) out.push(...tries.reduce((best, t) => (t.length < best.length ? t : best)));
        break;
      }
    }
    return out;
  };

  const checkObject = (value: Json, properties: ResourceProperties, path: string): SchemaProblem[] => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return [{ path, problem: `expected an object, got ${describe(value)}` }];
    const out: SchemaProblem[] = [];
    for (const [name, v] of Object.entries(value)) {
      const property = properties[name];
      if (!property) {
        out.push({ path: `${path}.${name}`, problem: `unknown property (known: ${Object.keys(properties).sort().join(', ')})` });
        continue;
      }
      const types = [property.type, ...(property.previousTypes ?? [])];
      const tries = types.map((t) => check(v, t, `${path}.${name}`));
      if (!tries.some((t) => t.length === 0)) out.push(...tries[0]!);
    }
    for (const [name, property] of Object.entries(properties)) {
      if (property.required && !(name in value)) out.push({ path: `${path}.${name}`, problem: 'required property missing' });
    }
    return out;
  };

  for (const [id, raw] of Object.entries(resources)) {
    const resource = asObject(raw);
    const path = `Resources.${id}`;
    for (const key of Object.keys(resource)) if (!RESOURCE_KEYS.has(key)) report(`${path}.${key}`, 'not a resource attribute');
    const dependsOn = resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
    for (const target of dependsOn) {
      if (typeof target !== 'string' || !(target in resources)) report(`${path}.DependsOn`, `${JSON.stringify(target)} is not a resource of this template`);
      else if (target === id) report(`${path}.DependsOn`, 'a resource cannot depend on itself');
    }
    if (resource.Condition !== undefined && !(String(resource.Condition) in conditions)) report(`${path}.Condition`, `condition ${String(resource.Condition)} is not defined`);
    for (const policy of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
      if (resource[policy] !== undefined && !POLICIES.includes(String(resource[policy]))) report(`${path}.${policy}`, `${JSON.stringify(resource[policy])} is not one of ${POLICIES.join(', ')}`);
    }
    const type = resource.Type;
    if (typeof type !== 'string') {
      report(`${path}.Type`, 'a resource needs a Type');
      continue;
    }
    const properties = resource.Properties ?? {};
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
      if (!('ServiceToken' in asObject(properties))) report(`${path}.Properties.ServiceToken`, 'a custom resource needs a ServiceToken');
      walkIntrinsics(properties, `${path}.Properties`);
      continue;
    }
    if (UNDESCRIBED.has(type)) continue;
    const r = resourceSpec(type);
    if (!r) {
      report(`${path}.Type`, `${type} is not a CloudFormation resource type`);
      continue;
    }
    problems.push(...checkObject(properties, r.properties, `${path}.Properties`));
  }
  for (const [name, output] of Object.entries(asObject(template.Outputs))) walkIntrinsics(output, `Outputs.${name}`);
  return problems;
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
