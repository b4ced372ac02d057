/**
 * The URL a Twilio Media Stream was signed for, rebuilt by the authorizer (functions/access/twilio-signature.ts connectUrl):
 * on API Gateway's own endpoint, behind a custom domain (the API mapping's path is not in the event), and locally.
 */
import { createHmac } from 'node:crypto';
import { connectUrl, twilioSignatureValid } from '../../functions/access/twilio-signature';

const event = (host: string, stage: string, query: Record<string, string> = {}, proto = 'https') => ({
  headers: { Host: host, 'X-Forwarded-Proto': proto },
  queryStringParameters: query,
  requestContext: { domainName: host, stage },
});

describe('connectUrl', () => {
  it('on the execute-api endpoint: host and /stage, whatever the published URL', () => {
    const host = 'abc123.execute-api.us-east-1.amazonaws.com';
    expect(connectUrl(event(host, 'prod'))).toBe(`wss://${host}/prod`);
    expect(connectUrl(event(host, 'prod'), 'wss://voice.example.com/agent')).toBe(`wss://${host}/prod`);
  });

  it('behind a custom domain: the published path exactly as written, with the query as it arrived', () => {
    expect(connectUrl(event('voice.example.com', 'prod'), 'wss://voice.example.com/agent')).toBe('wss://voice.example.com/agent');
    expect(connectUrl(event('Voice.Example.com', 'prod', { format: 'mulaw' }), 'wss://voice.example.com/agent')).toBe('wss://Voice.Example.com/agent?format=mulaw');
    expect(connectUrl(event('voice.example.com', 'prod'), 'wss://voice.example.com')).toBe('wss://voice.example.com');
    expect(connectUrl(event('voice.example.com', 'prod'), 'wss://voice.example.com/')).toBe('wss://voice.example.com/');
  });

  it('locally: ws:// from X-Forwarded-Proto http, host with its port', () => {
    expect(connectUrl(event('127.0.0.1:8080', 'local', {}, 'http'), 'ws://127.0.0.1:8080/local')).toBe('ws://127.0.0.1:8080/local');
    expect(connectUrl(event('voice.example.test', 'local', {}, 'http'), 'ws://voice.example.test/agent')).toBe('ws://voice.example.test/agent');
  });

  it('accepts Twilio\'s signature over the custom domain\'s URL and refuses one over the stage\'s', () => {
    const token = 'f'.repeat(32);
    const sign = (url: string) => createHmac('sha1', token).update(url).digest('base64');
    const url = connectUrl(event('voice.example.com', 'prod'), 'wss://voice.example.com/agent');
    expect(twilioSignatureValid(token, sign('wss://voice.example.com/agent'), url)).toBe(true);
    expect(twilioSignatureValid(token, sign('wss://voice.example.com/prod'), url)).toBe(false);
  });
});
