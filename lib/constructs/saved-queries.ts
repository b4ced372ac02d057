/**
 * The on-call engineer's Logs Insights queries, saved per environment (AWS::Logs::QueryDefinition, in a folder named
 * after the stack's dashboard): the slowest turns, the calls whose providers failed, and one call's whole timeline.
 * They read the functions' Powertools JSON lines, whose keys Logs Insights discovers as fields: every line a WebSocket
 * route writes carries `callId` (functions/lambda/route-handler.ts), and each turn ends with one `turn finished` line
 * of numbers (TurnRunner.report in functions/domain/call/turn-runner.ts).
 */
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES } from '../../functions/contracts/routes';

/**
 * The functions that run turns: those that speak (`start` speaks the greeting, `media` and `dtmf` answer the caller).
 * Their log groups hold every `turn finished` line and every provider failure.
 */
export const TURN_FUNCTIONS: readonly string[] = ROUTES.filter((r) => r.permissions.speech).map((r) => r.name);

/** Every function a call's messages reach: each of their lines carries the call id. */
export const CALL_FUNCTIONS: readonly string[] = ROUTES.map((r) => r.name);

/** The message of the one line each turn ends with (TurnRunner.report). */
export const TURN_FINISHED_MESSAGE = 'turn finished';

/**
 * The stage numbers of that line, on the turn's path and in its order: for a speech turn all but `modelFirstTokenMs`
 * (a part of `responderMs`) add up to `latencyMs` (end of caller speech → first agent audio), so the row of a slow
 * turn shows which stage took the time.
 */
export const TURN_STAGE_FIELDS = ['endpointMs', 'sttMs', 'responderMs', 'modelFirstTokenMs', 'ttsFirstByteMs', 'sendMs'] as const;

/**
 * The warnings a turn writes when a provider fails (what ProviderErrors and LlmErrors count, and a preemptive answer
 * given up), each with the `turn` and the provider's `error` (provider, kind, message) or the model's `errors`.
 */
export const PROVIDER_FAILURE_MESSAGES = [
  // functions/domain/call/turn-runner.ts: speech-to-text or the responder failed; the caller hears the fallback phrase.
  'turn input failed; answering with the fallback phrase',
  // functions/domain/call/speaker.ts: text-to-speech failed before any audio, during the reply, or broke and was retried.
  'speech synthesis failed; saying the fallback phrase',
  'speech synthesis failed mid-turn',
  'speech stream broke; synthesizing the sentence again from where it stopped',
  // functions/domain/call/turn-runner.ts: the language model failed (the rules or the failure line answered).
  'the language model failed',
  // functions/domain/call/speculation.ts: work started before the endpoint failed; the turn was answered the ordinary way.
  'preemptive generation failed; answering the ordinary way',
] as const;

/** What the engineer replaces with a call id (from the slowest turns, the provider errors, or the call history page). */
export const CALL_ID_PLACEHOLDER = 'PASTE-CALL-ID';

const quoted = (s: string) => JSON.stringify(s);

/** The slowest turns with their call ids and stage times (the dashboard's table runs the same query). */
export function slowestTurnsQuery(limit = 20): QueryString {
  return new QueryString({
    fields: ['@timestamp', 'callId', 'turn', 'kind', 'status', 'latencyMs', ...TURN_STAGE_FIELDS, 'endOfTurnMs', 'preempted'],
    filterStatements: [`message = ${quoted(TURN_FINISHED_MESSAGE)} and ispresent(latencyMs)`],
    sort: 'latencyMs desc',
    limit,
  });
}

/** One row per call whose providers failed: how often, when, and the last failure. The latest calls first. */
export function providerErrorsQuery(): QueryString {
  return new QueryString({
    filterStatements: [`message in [${PROVIDER_FAILURE_MESSAGES.map(quoted).join(', ')}]`],
    statsStatements: [
      'count(*) as failures, count_distinct(turn) as turns, earliest(@timestamp) as firstAt, latest(@timestamp) as lastAt, latest(message) as lastFailure, latest(error) as lastError by callId',
    ],
    sort: 'lastAt desc',
    limit: 100,
  });
}

/** Every line of one call in time order, across its functions (Logs Insights returns at most 10,000 rows). */
export function callTimelineQuery(): QueryString {
  return new QueryString({
    fields: ['@timestamp', 'function_name', 'level', 'message', 'turn', 'status', 'latencyMs', 'error', 'reason'],
    filterStatements: [`callId = ${quoted(CALL_ID_PLACEHOLDER)}`],
    sort: '@timestamp asc',
    limit: 10000,
  });
}

export interface SavedQueriesProps {
  readonly envName: string;
  /** Log group of each function, by route-table name: at least those of TURN_FUNCTIONS and CALL_FUNCTIONS. */
  readonly logGroups: ReadonlyMap<string, ILogGroup>;
}

export class SavedQueries extends Construct {
  /** The saved queries' names, as the Logs Insights console lists them (`<folder>/<query>`). */
  readonly names: { readonly slowestTurns: string; readonly providerErrors: string; readonly callTimeline: string };
  /** The log groups of the functions that run turns. */
  readonly turnLogGroups: readonly ILogGroup[];

  constructor(scope: Construct, id: string, props: SavedQueriesProps) {
    super(scope, id);
    const groups = (names: readonly string[]) =>
      names.map((name) => {
        const group = props.logGroups.get(name);
        if (!group) throw new Error(`saved queries: no log group for function '${name}'`);
        return group;
      });
    this.turnLogGroups = groups(TURN_FUNCTIONS);
    const folder = `voice-agent-${props.envName}`;
    this.names = {
      slowestTurns: `${folder}/slowest-turns`,
      providerErrors: `${folder}/calls-with-provider-errors`,
      callTimeline: `${folder}/call-timeline-by-id`,
    };
    new QueryDefinition(this, 'SlowestTurns', {
      queryDefinitionName: this.names.slowestTurns,
      queryString: slowestTurnsQuery(50),
      logGroups: [...this.turnLogGroups],
    });
    new QueryDefinition(this, 'ProviderErrors', {
      queryDefinitionName: this.names.providerErrors,
      queryString: providerErrorsQuery(),
      logGroups: [...this.turnLogGroups],
    });
    new QueryDefinition(this, 'CallTimeline', {
      queryDefinitionName: this.names.callTimeline,
      queryString: callTimelineQuery(),
      logGroups: groups(CALL_FUNCTIONS),
    });
  }
}
