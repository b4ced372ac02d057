/**
 * A stand-in for Twilio's REST API, the Calls resource only (`/2010-04-01/Accounts/{AccountSid}/Calls.json` and
 * `…/Calls/{CallSid}.json`), in process, so the unchanged `twilio` client (functions/adapters/twilio-calls.ts) can be
 * exercised without a Twilio account: HTTP Basic auth with the account SID and auth token, form-encoded parameters,
 * the call resource's JSON, and Twilio's error bodies (`{code, message, more_info, status}`) with their codes.
 *
 * What it is not: a phone network. Creating a call places nothing (its status stays `queued`, and the request is
 * recorded); redirecting a live call records the new TwiML and marks the call completed as far as the stand-in is
 * concerned. Inbound calls exist for it only once announced with `ringing(callSid)` (the test or tool playing Twilio's
 * side of the line does that), as only calls Twilio knows can be redirected. Everything it received is in `requests`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwilioRestServerOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** The account's phone numbers: the only `From` a created call may use (Twilio: 21210 otherwise). */
  readonly numbers: readonly string[];
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The form parameters as received. */
  readonly params: Readonly<Record<string, string>>;
  readonly status: number;
  /** The Twilio error code of a refusal. */
  readonly code?: number;
}

interface CallResource {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  status: 'queued' | 'ringing' | 'in-progress' | 'completed' | 'canceled';
  readonly direction: 'inbound' | 'outbound-api';
  readonly created: Date;
  twiml?: string;
}

const E164 = /^\+[1-9]\d{6,14}$/;

class TwilioError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class TwilioRestServer {
  private server?: Server;
  private readonly calls = new Map<string, CallResource>();
  readonly requests: RecordedRequest[] = [];
  url = '';

  constructor(private readonly options: TwilioRestServerOptions) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Twilio's side of an inbound call that rang and was answered: from now on the REST API knows it as in progress. */
  ringing(callSid: string, from = '+15550000000', to = this.options.numbers[0] ?? '+15550000001'): void {
    this.calls.set(callSid, { sid: callSid, to, from, status: 'in-progress', direction: 'inbound', created: new Date() });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    let params: Record<string, string> = {};
    try {
      params = Object.fromEntries(new URLSearchParams(await body(req)));
      const result = this.route(req, path, params);
      this.requests.push({ method: req.method ?? '', path, params, status: result.status });
      send(res, result.status, result.body);
    } catch (err) {
      const e = err instanceof TwilioError ? err : new TwilioError(500, 20500, 'Internal Server Error');
      this.requests.push({ method: req.method ?? '', path, params, status: e.status, code: e.code });
      send(res, e.status, { code: e.code, message: e.message, more_info: `https://www.twilio.com/docs/errors/${e.code}`, status: e.status });
    }
  }

  private route(req: IncomingMessage, path: string, params: Record<string, string>): { status: number; body: unknown } {
    const m = path.match(/^\/2010-04-01\/Accounts\/([^/]+)\/Calls(?:\/([^/]+))?\.json$/);
    if (!m) throw new TwilioError(404, 20404, `The requested resource ${path} was not found`);
    this.authenticate(req, m[1]!);
    const [, , callSid] = m;
    if (!callSid) {
      if (req.method !== 'POST') throw new TwilioError(405, 20004, 'Method not allowed (this stand-in creates calls only)');
      return { status: 201, body: this.render(this.create(params)) };
    }
    const call = this.calls.get(callSid);
    if (!call) throw new TwilioError(404, 20404, `The requested resource ${path} was not found`);
    if (req.method === 'GET') return { status: 200, body: this.render(call) };
    if (req.method !== 'POST') throw new TwilioError(405, 20004, 'Method not allowed');
    if (params.Twiml === undefined && params.Url === undefined && params.Status === undefined) {
      throw new TwilioError(400, 21218, 'Invalid application SID or URL: one of Url, Twiml or Status is required');
    }
    if (call.status !== 'in-progress' && call.status !== 'ringing' && call.status !== 'queued') {
      throw new TwilioError(400, 21220, 'Call is not in-progress. Cannot redirect.');
    }
    if (params.Status === 'completed' || params.Status === 'canceled') call.status = params.Status;
    if (params.Twiml !== undefined) {
      checkTwiml(params.Twiml);
      call.twiml = params.Twiml;
      call.status = 'completed'; // as far as this stand-in goes: the stream leg is over, the new TwiML runs elsewhere
    }
    return { status: 200, body: this.render(call) };
  }

  private create(params: Record<string, string>): CallResource {
    if (!params.To) throw new TwilioError(400, 21201, "No 'To' number is specified");
    if (!E164.test(params.To)) throw new TwilioError(400, 21211, `Invalid 'To' Phone Number: ${params.To}`);
    if (!params.From) throw new TwilioError(400, 21603, "A 'From' phone number is required.");
    if (!this.options.numbers.includes(params.From)) throw new TwilioError(400, 21210, `The source phone number provided, ${params.From}, is not yet verified for your account.`);
    if (params.Twiml === undefined && params.Url === undefined && params.ApplicationSid === undefined) {
      throw new TwilioError(400, 21205, 'Url parameter is required. Please provide a Url, Twiml or ApplicationSid.');
    }
    if (params.Twiml !== undefined) checkTwiml(params.Twiml);
    const call: CallResource = { sid: 'CA' + randomBytes(16).toString('hex'), to: params.To, from: params.From, status: 'queued', direction: 'outbound-api', created: new Date(), twiml: params.Twiml };
    this.calls.set(call.sid, call);
    return call;
  }

  private authenticate(req: IncomingMessage, accountSid: string): void {
    const header = req.headers.authorization ?? '';
    const [user, ...rest] = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8').split(':') : [];
    const expected = `${this.options.accountSid}:${this.options.authToken}`;
    const given = `${user ?? ''}:${rest.join(':')}`;
    const ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    if (!ok) throw new TwilioError(401, 20003, 'Authenticate');
    if (accountSid !== this.options.accountSid) throw new TwilioError(404, 20404, `The requested resource /2010-04-01/Accounts/${accountSid} was not found`);
  }

  private render(call: CallResource): Record<string, unknown> {
    const account = this.options.accountSid;
    return {
      sid: call.sid,
      account_sid: account,
      to: call.to,
      from: call.from,
      status: call.status,
      direction: call.direction,
      api_version: '2010-04-01',
      date_created: call.created.toUTCString(),
      date_updated: new Date().toUTCString(),
      uri: `/2010-04-01/Accounts/${account}/Calls/${call.sid}.json`,
    };
  }
}

/** Twilio refuses TwiML that is not a `<Response>` document (12100, Document parse failure). */
function checkTwiml(twiml: string): void {
  if (!/^\s*(<\?xml[^>]*\?>\s*)?<Response>[\s\S]*<\/Response>\s*$/.test(twiml)) throw new TwilioError(400, 12100, 'Document parse failure: Twiml is not a <Response> document');
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(payload));
}
