/**
 * Twilio's REST API for calls, through the official `twilio` client: redirect a live call to `<Dial>` a person
 * (transfer), and place an outbound call whose TwiML connects it to our Media Stream. Credentials are the account SID
 * and auth token from the app secret. `TWILIO_API_URL` (the local stack's stand-in, local/vendors/twilio-rest-server.ts)
 * replaces `https://api.twilio.com` in the URLs the client builds; everything else (form encoding, auth, errors as
 * RestException) is the library's own.
 */
import { Client } from 'twilio/lib/base/BaseTwilio';
import Domain from 'twilio/lib/base/Domain';
import RequestClient from 'twilio/lib/base/RequestClient';
import Version from 'twilio/lib/base/Version';
import { CallListInstance } from 'twilio/lib/rest/api/v2010/account/call';
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse';
import type { PhoneLine } from '../domain/call/model';

const TWILIO_API = 'https://api.twilio.com';

/** The library's HTTP client, with Twilio's API host replaced by `baseUrl`. */
class BaseUrlRequestClient extends RequestClient {
  constructor(private readonly baseUrl: string) {
    super({ timeout: 10_000 });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request({ ...opts, uri: opts.uri.startsWith(TWILIO_API) ? this.baseUrl.replace(/\/$/, '') + opts.uri.slice(TWILIO_API.length) : opts.uri });
  }
}

export interface TwilioCredentials {
  readonly accountSid: string;
  readonly authToken: string;
}

/** A refusal from Twilio (or the network), with Twilio's error code when it gave one. Never carries credentials. */
export class TwilioCallError extends Error {
  override readonly name = 'TwilioCallError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: number,
  ) {
    super(message);
  }
}

export interface PlacedCall {
  readonly callSid: string;
  readonly status: string;
}

export class TwilioCalls {
  private readonly calls: CallListInstance;

  constructor(credentials: TwilioCredentials, apiUrl: string | undefined = process.env.TWILIO_API_URL) {
    // The library's Calls resource on its own (the full `twilio()` client bundles every Twilio product: megabytes).
    const client = new Client(credentials.accountSid, credentials.authToken, {
      ...(apiUrl ? { httpClient: new BaseUrlRequestClient(apiUrl) } : {}),
      autoRetry: true,
      maxRetries: 2,
    });
    const v2010 = new Version(new Domain(client, TWILIO_API), '2010-04-01');
    this.calls = CallListInstance(v2010 as never, credentials.accountSid);
  }

  /** Redirects the live call: Twilio ends its Media Stream and dials `to` (the caller hears ringing, then the person). */
  async transfer(callSid: string, to: string): Promise<void> {
    const response = new VoiceResponse();
    response.dial({ answerOnBridge: true }, to);
    await this.call(() => this.calls(callSid).update({ twiml: response.toString() }));
  }

  /**
   * Places a call from `from` to `to` whose TwiML connects it to `streamUrl` (the agent greets first), with
   * `parameters` as the stream's `<Parameter>`s (they arrive in its `start` message).
   */
  async place(to: string, from: string, streamUrl: string, parameters: Readonly<Record<string, string>> = {}): Promise<PlacedCall> {
    const response = new VoiceResponse();
    const stream = response.connect().stream({ url: streamUrl });
    for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
    stream.parameter({ name: 'direction', value: 'outbound' });
    stream.parameter({ name: 'to', value: to });
    stream.parameter({ name: 'from', value: from });
    const call = await this.call(() => this.calls.create({ to, from, twiml: response.toString() }));
    return { callSid: call.sid, status: call.status };
  }

  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      const e = err as { status?: number; code?: number; message?: string };
      throw new TwilioCallError(`Twilio refused: ${e.status ?? 'no status'} ${e.code !== undefined ? `(code ${e.code}) ` : ''}${e.message ?? String(err)}`, e.status, e.code);
    }
  }
}

/** What the phone line reads from the app secret. */
export interface PhoneLineSettings {
  readonly twilioAccountSid?: string;
  readonly twilioAuthToken?: string;
  readonly transferNumber?: string;
}

/** The domain's PhoneLine on Twilio's REST API, configured by the app secret (read when needed, cached with it). */
export class TwilioPhoneLine implements PhoneLine {
  private client?: { readonly key: string; readonly calls: TwilioCalls };

  constructor(
    private readonly settings: () => Promise<PhoneLineSettings>,
    private readonly apiUrl: string | undefined = process.env.TWILIO_API_URL,
  ) {}

  async canTransfer(): Promise<boolean> {
    const s = await this.settings();
    return Boolean(s.twilioAccountSid && s.twilioAuthToken && s.transferNumber);
  }

  async transfer(callSid: string): Promise<void> {
    const s = await this.settings();
    if (!s.twilioAccountSid || !s.twilioAuthToken || !s.transferNumber) throw new TwilioCallError('transfer not configured: twilioAccountSid, twilioAuthToken and transferNumber are needed in the app secret');
    await this.calls({ accountSid: s.twilioAccountSid, authToken: s.twilioAuthToken }).transfer(callSid, s.transferNumber);
  }

  /** One client per credentials (a rotated token gets a new one). */
  private calls(credentials: TwilioCredentials): TwilioCalls {
    const key = `${credentials.accountSid}:${credentials.authToken}`;
    if (this.client?.key !== key) this.client = { key, calls: new TwilioCalls(credentials, this.apiUrl) };
    return this.client.calls;
  }
}
