/**
 * A local Amazon Bedrock Runtime, ConverseStream only: test and benchmark tooling, never product code. The unchanged
 * `@aws-sdk/client-bedrock-runtime` talks to it with `endpoint: <this server's URL>`:
 *
 *   POST /model/{modelId}/converse-stream    restJson1 body (converse-request.ts), SigV4-signed
 *   → 200 application/vnd.amazon.eventstream: messageStart, then per content block (text first, then each toolUse)
 *     contentBlockStart (toolUse only, as the service does for text) / contentBlockDelta* / contentBlockStop, then
 *     messageStop {stopReason: end_turn | tool_use | max_tokens}, then metadata {usage, metrics.latencyMs}.
 *
 * - Errors in AWS's restJson1 shape (status, `x-amzn-errortype`, `{"message"}` body): a body that is not JSON or not
 *   the Converse shape, or a conversation the service refuses (converse-request.ts) → 400 ValidationException; an
 *   unsigned request → 403 UnrecognizedClientException; a key `isAllowed` refuses for
 *   `bedrock:InvokeModelWithResponseStream` on the model's ARN → 403 AccessDeniedException; a model id outside
 *   `models` (when given) → 400 ValidationException "The provided model identifier is invalid.". Signatures are not
 *   verified (the access key id is read from the Authorization header), as with the other local AWS services.
 * - What the "model" says comes from a `ModelPolicy` (policy.ts): deterministic, and it says what it is.
 * - Timing (ModelLatency): `firstToken` from the request to messageStart and the first delta, then output paced at
 *   `tokensPerSecond`. Tokens are counted as the service bills them only approximately: 4 characters a token.
 * - Faults (FaultPlan<ModelFault>, one per request that passed auth and validation): `http-429` ThrottlingException,
 *   `http-500` InternalServerException, `http-503` ServiceUnavailableException, `timeout` (never answered), `stall`
 *   (messageStart and the first delta, then nothing), `drop` (socket destroyed after the first delta),
 *   `stream-error` (a modelStreamErrorException event after the first delta), `stream-throttle` (a
 *   throttlingException event after the first delta), `malformed` (a toolUse whose input is not JSON, or, for a turn
 *   that calls no tool, one naming a tool the request did not offer).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { constants, createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { INVOKE_MODEL_STREAM_ACTION, modelResourceArns } from '../../../functions/contracts/model';
import { drawDelay, FaultPlan, sleep, type Delay } from '../behaviour';
import { readBodyUpTo } from '../../http-body';
import { listenOnLoopback } from '../../listen';
import { ConverseStreamBody, conversationProblem } from './converse-request';
import { eventMessage, exceptionMessage } from './event-stream';
import { echoPolicy, policyInput, STAND_IN_NOTICE, type ModelPolicy, type ModelTurn } from './policy';

export type ModelFault =
  | 'http-429'
  | 'http-500'
  | 'http-503'
  | 'timeout'
  | 'stall'
  | 'drop'
  | 'stream-error'
  | 'stream-throttle'
  | 'malformed';
export const MODEL_FAULTS: readonly ModelFault[] = ['http-429', 'http-500', 'http-503', 'timeout', 'stall', 'drop', 'stream-error', 'stream-throttle', 'malformed'];

export interface ModelLatency {
  /** From the request to the first token (messageStart and the first delta). */
  readonly firstToken: Delay;
  /** Output pace after the first token. */
  readonly tokensPerSecond: number;
}

/**
 * A Haiku-class model (Claude Haiku 4.5, the default): first token ≈ 0.4 s p50 (issue 16's figure for the target; published figures for Bedrock's
 * small models put time to first token at 0.2–0.6 s), 100 output tokens per second (an assumption within the range
 * reported for small models; set it to what you measure on your account).
 */
export const HAIKU_CLASS_LATENCY: ModelLatency = {
  firstToken: { kind: 'normal', meanMs: 400, sdMs: 80, minMs: 200 },
  tokensPerSecond: 100,
};

/** No added latency: what the adapter and the platform cost on their own. */
export const ZERO_MODEL_LATENCY: ModelLatency = { firstToken: { kind: 'fixed', ms: 0 }, tokensPerSecond: Number.POSITIVE_INFINITY };

export interface BedrockRuntimeServerOptions {
  readonly region?: string;
  readonly accountId?: string;
  /** Default HAIKU_CLASS_LATENCY. */
  readonly latency?: ModelLatency;
  /** Default echoPolicy. */
  readonly policy?: ModelPolicy;
  /** Default: no faults. Scripted ones can be added later through `server.faults`. */
  readonly faults?: FaultPlan<ModelFault>;
  /** Model and inference profile ids this account can call; default any. */
  readonly models?: readonly string[];
  /** Whether the caller (by access key id) may perform the action on the resource. Default: all allowed. */
  readonly isAllowed?: (accessKeyId: string, action: string, resourceArn: string) => boolean;
  readonly random?: () => number;
}

export interface BedrockRequestRecord {
  readonly modelId: string;
  readonly status: number;
  readonly body?: ConverseStreamBody;
  readonly fault?: ModelFault;
  readonly stopReason?: string;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
}

export interface BedrockRuntimeStats {
  requests: number;
  /** Requests a model ran on (answered 200). */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  faults: Partial<Record<ModelFault, number>>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const CHARS_PER_TOKEN = 4;

class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export const tokensIn = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

export class BedrockRuntimeServer {
  readonly faults: FaultPlan<ModelFault>;
  readonly stats: BedrockRuntimeStats = { requests: 0, calls: 0, inputTokens: 0, outputTokens: 0, faults: {} };
  readonly requests: BedrockRequestRecord[] = [];
  private readonly region: string;
  private readonly accountId: string;
  private readonly random: () => number;
  private server?: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  latency: ModelLatency;
  policy: ModelPolicy;
  url = '';

  constructor(private readonly options: BedrockRuntimeServerOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.latency = options.latency ?? HAIKU_CLASS_LATENCY;
    this.policy = options.policy ?? echoPolicy;
    this.random = options.random ?? Math.random;
    this.faults = options.faults ?? new FaultPlan<ModelFault>({}, this.random, MODEL_FAULTS);
  }

  async start(port = 0): Promise<string> {
    // HTTP/2 without TLS (h2c, prior knowledge): the SDK's Bedrock Runtime client streams over HTTP/2 (its
    // NodeHttp2Handler), as it does against the service (there by ALPN over TLS).
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    this.url = await listenOnLoopback(this.server as never, port);
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /**
   * The ARN IAM checks for a model id: a foundation model, an inference profile, or an ARN given as the id (the first
   * of the resources the stack grants for it, functions/contracts/model.ts).
   */
  modelArn(modelId: string): string {
    return modelResourceArns(modelId, this.region, this.accountId)[0]!;
  }

  private async handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    this.stats.requests++;
    const requestId = randomUUID();
    const match = /^\/model\/([^/]+)\/converse-stream$/.exec((req.url ?? '').split('?')[0]!);
    const modelId = match ? decodeURIComponent(match[1]!) : '';
    try {
      if (!match) throw new ServiceError(404, 'UnknownOperationException', 'This stand-in serves POST /model/{modelId}/converse-stream only.');
      if (req.method !== 'POST') throw new ServiceError(405, 'UnknownOperationException', `${req.method} is not supported here.`);
      const accessKeyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
      if (!accessKeyId) throw new ServiceError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
      const raw = await readBodyUpTo(req as unknown as IncomingMessage, MAX_BODY_BYTES, () => new ServiceError(413, 'ValidationException', 'Input is too long for requested model.'));
      const arn = this.modelArn(modelId);
      if (this.options.isAllowed && !this.options.isAllowed(accessKeyId, INVOKE_MODEL_STREAM_ACTION, arn)) {
        throw new ServiceError(
          403,
          'AccessDeniedException',
          `User: ${accessKeyId} is not authorized to perform: ${INVOKE_MODEL_STREAM_ACTION} on resource: ${arn} because no identity-based policy allows the ${INVOKE_MODEL_STREAM_ACTION} action`,
        );
      }
      if (this.options.models && !this.options.models.includes(modelId)) throw new ServiceError(400, 'ValidationException', 'The provided model identifier is invalid.');
      const body = parseBody(raw);
      const problem = conversationProblem(body);
      if (problem) throw new ServiceError(400, 'ValidationException', problem);
      await this.converse(modelId, body, res, requestId);
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError(500, 'InternalServerException', 'The server encountered an internal error.');
      this.requests.push({ modelId, status: e.status });
      if (!res.headersSent) sendError(res, e, requestId);
    }
  }

  private async converse(modelId: string, body: ConverseStreamBody, res: Http2ServerResponse, requestId: string): Promise<void> {
    const started = Date.now();
    const fault = this.faults.take();
    const record = (status: number, extra: Partial<BedrockRequestRecord> = {}) => this.requests.push({ modelId, status, body, fault, ...extra });
    if (fault) this.stats.faults[fault] = (this.stats.faults[fault] ?? 0) + 1;
    const httpFault = fault ? HTTP_FAULTS[fault as keyof typeof HTTP_FAULTS] : undefined;
    if (httpFault) {
      record(httpFault.status);
      return sendError(res, httpFault, requestId);
    }
    if (fault === 'timeout') return void record(0);

    let turn = this.policy(policyInput(body));
    if (fault === 'malformed') turn = malformedTurn(turn);
    const inputTokens = tokensIn(JSON.stringify(body.system ?? '') + JSON.stringify(body.messages) + JSON.stringify(body.toolConfig ?? ''));
    const maxTokens = body.inferenceConfig?.maxTokens ?? 4096;
    const { events, outputTokens, stopReason } = assistantEvents(turn, maxTokens, () => `tooluse_${randomBytes(16).toString('base64url').slice(0, 22)}`);

    // Counted as the service bills: the input once a model runs on it, each output token as it is streamed (a stream
    // abandoned halfway has paid for what it produced).
    this.stats.inputTokens += inputTokens;
    this.stats.calls++;
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': requestId,
      'x-local-stand-in': STAND_IN_NOTICE,
    });
    await sleep(drawDelay(this.latency.firstToken, this.random));
    const gone = () => res.stream.destroyed || res.stream.closed;
    const send = (bytes: Uint8Array) => !gone() && res.write(bytes);
    let sentDeltas = 0;
    for (const event of events) {
      if (gone()) return void record(200, { stopReason: 'client-gone' });
      send(eventMessage(event.type, event.payload));
      this.stats.outputTokens += event.tokens;
      if (event.type !== 'contentBlockDelta') continue;
      sentDeltas++;
      if (sentDeltas === 1 && fault) {
        switch (fault) {
          case 'stall':
            return void record(200, { stopReason: 'stalled' });
          case 'drop':
            res.stream.close(constants.NGHTTP2_INTERNAL_ERROR); // RST_STREAM: this request fails, the connection lives on
            return void record(200, { stopReason: 'dropped' });
          case 'stream-error':
            send(exceptionMessage('modelStreamErrorException', { message: 'Model stream error: the model stopped producing output.', originalStatusCode: 500, originalMessage: 'Internal error' }));
            res.end();
            return void record(200, { stopReason: 'stream-error' });
          case 'stream-throttle':
            send(exceptionMessage('throttlingException', { message: 'Too many tokens, please wait before trying again.' }));
            res.end();
            return void record(200, { stopReason: 'stream-throttle' });
        }
      }
      if (Number.isFinite(this.latency.tokensPerSecond)) await sleep((1000 * event.tokens) / this.latency.tokensPerSecond);
    }
    send(eventMessage('messageStop', { stopReason }));
    send(eventMessage('metadata', { usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }, metrics: { latencyMs: Date.now() - started } }));
    res.end();
    record(200, { stopReason, inputTokens, outputTokens });
  }
}

const HTTP_FAULTS = {
  'http-429': new ServiceError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.'),
  'http-500': new ServiceError(500, 'InternalServerException', 'The server encountered an internal error while processing the request.'),
  'http-503': new ServiceError(503, 'ServiceUnavailableException', 'The service is temporarily unable to handle the request.'),
} as const;

interface StreamEvent {
  readonly type: string;
  readonly payload: unknown;
  /** Output tokens it carries (paces the stream). */
  readonly tokens: number;
}

/**
 * The events of one assistant turn: text deltas of a word or so each, then each tool call's input JSON in a few
 * pieces; text beyond `maxTokens` is cut and the stop reason says so.
 */
export function assistantEvents(turn: ModelTurn, maxTokens: number, newToolUseId: () => string): { events: StreamEvent[]; outputTokens: number; stopReason: string } {
  const events: StreamEvent[] = [{ type: 'messageStart', payload: { role: 'assistant' }, tokens: 0 }];
  let outputTokens = 0;
  let index = 0;
  let cut = false;
  if (turn.text.length > 0) {
    for (const piece of turn.text.match(/\S+\s*|\s+/g) ?? []) {
      const tokens = tokensIn(piece);
      if (outputTokens + tokens > maxTokens) {
        cut = true;
        break;
      }
      outputTokens += tokens;
      events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { text: piece } }, tokens });
    }
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex: index }, tokens: 0 });
    index++;
  }
  const toolUses = cut ? [] : (turn.toolUses ?? []);
  for (const use of toolUses) {
    const input = typeof use.input === 'string' ? use.input : JSON.stringify(use.input ?? {});
    events.push({ type: 'contentBlockStart', payload: { contentBlockIndex: index, start: { toolUse: { toolUseId: newToolUseId(), name: use.name } } }, tokens: 0 });
    for (let at = 0; at < input.length; at += 24) {
      const piece = input.slice(at, at + 24);
      outputTokens += tokensIn(piece);
      events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { toolUse: { input: piece } } }, tokens: tokensIn(piece) });
    }
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex: index }, tokens: 0 });
    index++;
  }
  const stopReason = cut ? 'max_tokens' : toolUses.length > 0 ? 'tool_use' : 'end_turn';
  return { events, outputTokens, stopReason };
}

/** The `malformed` fault: a tool call whose input is cut short, or one naming a tool nobody offered. */
function malformedTurn(turn: ModelTurn): ModelTurn {
  const first = turn.toolUses?.[0];
  if (first) return { text: turn.text, toolUses: [{ name: first.name, input: JSON.stringify(first.input ?? {}).slice(0, -1) + ',"' }] };
  return { text: turn.text, toolUses: [{ name: 'no_such_tool', input: {} }] };
}

function parseBody(raw: Buffer): ConverseStreamBody {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8') || '{}');
  } catch {
    throw new ServiceError(400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
  }
  const parsed = ConverseStreamBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ServiceError(400, 'ValidationException', `1 validation error detected: Value at '${issue.path.join('.')}' failed to satisfy constraint: ${issue.message}`);
  }
  return parsed.data;
}

function sendError(res: Http2ServerResponse, e: ServiceError, requestId: string): void {
  res.writeHead(e.status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${e.type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': requestId,
  });
  res.end(JSON.stringify({ message: e.message }));
}
