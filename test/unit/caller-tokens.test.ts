/**
 * Short-lived caller tokens (functions/access/caller-tokens.ts): what is accepted, and each way a token is refused.
 * The MAC is recomputed here from the documented format with node:crypto, independently of the module's helpers.
 */
import { createHmac } from 'node:crypto';
import {
  DEFAULT_CALLER_TOKEN_LIFETIME_SECONDS,
  MAX_CALLER_TOKEN_LIFETIME_SECONDS,
  issueCallerToken,
  looksLikeCallerToken,
  verifyCallerToken,
} from '../../functions/access/caller-tokens';
import { issueStreamTicket, STREAM_TICKET_LIFETIME_SECONDS, STREAM_TICKET_PARAMETER, streamTicketRefusal } from '../../functions/access/stream-tickets';

const KEY = 'the-long-lived-voice-agent-token';
const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const at = (seconds: number) => ({ nowMs: NOW + seconds * 1000 });

/** A token signed with the documented scheme: HMAC-SHA256 under a key derived from the app secret's token. */
function signed(payload: string, key = KEY): string {
  const derived = createHmac('sha256', key).update('voice-agent/caller-token/v1').digest();
  return `${payload}.${createHmac('sha256', derived).update(payload).digest('base64url')}`;
}

describe('caller tokens', () => {
  it('issue v1.<expiry>.<nonce>.<mac>, valid for 5 minutes by default, each one different', () => {
    const a = issueCallerToken(KEY, at(0));
    const b = issueCallerToken(KEY, at(0));
    expect(a.token).toMatch(/^v1\.\d+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect(a.expiresAt).toBe(NOW / 1000 + DEFAULT_CALLER_TOKEN_LIFETIME_SECONDS);
    expect(a.token.split('.')[1]).toBe(String(a.expiresAt));
    // The documented MAC, recomputed independently.
    expect(signed(a.token.slice(0, a.token.lastIndexOf('.')))).toBe(a.token);
    expect(a.token).not.toContain(KEY);
  });

  it('are accepted until they expire, and refused from their expiry second on', () => {
    const { token, expiresAt } = issueCallerToken(KEY, at(0));
    expect(verifyCallerToken(token, KEY, at(0))).toEqual({ valid: true, expiresAt });
    expect(verifyCallerToken(token, KEY, at(299))).toEqual({ valid: true, expiresAt });
    expect(verifyCallerToken(token, KEY, at(300))).toEqual({ valid: false, reason: 'expired' });
    expect(verifyCallerToken(token, KEY, at(86_400))).toEqual({ valid: false, reason: 'expired' });
  });

  it('honour a custom lifetime within bounds', () => {
    const { token } = issueCallerToken(KEY, { lifetimeSeconds: 30, ...at(0) });
    expect(verifyCallerToken(token, KEY, at(29)).valid).toBe(true);
    expect(verifyCallerToken(token, KEY, at(30))).toEqual({ valid: false, reason: 'expired' });
    expect(() => issueCallerToken(KEY, { lifetimeSeconds: 0 })).toThrow(/lifetime/);
    expect(() => issueCallerToken(KEY, { lifetimeSeconds: MAX_CALLER_TOKEN_LIFETIME_SECONDS + 1 })).toThrow(/lifetime/);
    expect(() => issueCallerToken('')).toThrow(/non-empty/);
  });

  it('are refused under another key (another environment, or after the token was rotated)', () => {
    const { token } = issueCallerToken(KEY, at(0));
    expect(verifyCallerToken(token, 'another-environments-token', at(0))).toEqual({ valid: false, reason: 'bad signature' });
    expect(verifyCallerToken(issueCallerToken('another-environments-token', at(0)).token, KEY, at(0))).toEqual({ valid: false, reason: 'bad signature' });
  });

  it('are refused when any part was altered: a later expiry, another nonce, another MAC, even its last character', () => {
    const { token } = issueCallerToken(KEY, at(0));
    const [v, exp, nonce, mac] = token.split('.') as [string, string, string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const altered of [
      [v, String(Number(exp) + 3000), nonce, mac],
      [v, String(Number(exp) - 1), nonce, mac],
      [v, exp, flip(nonce, 0), mac],
      [v, exp, nonce, flip(mac, 0)],
      // The 43rd base64url character carries 2 bits that decoding drops: compared as bytes, this would pass.
      [v, exp, nonce, mac.slice(0, 42) + (mac[42] === 'A' ? 'B' : 'A')],
    ]) {
      expect(verifyCallerToken(altered.join('.'), KEY, at(0))).toEqual({ valid: false, reason: 'bad signature' });
    }
  });

  it('are refused when signed correctly but claiming to live longer than an hour (not something this code issues)', () => {
    const forged = signed(`v1.${NOW / 1000 + MAX_CALLER_TOKEN_LIFETIME_SECONDS + 60}.AAAAAAAAAAAAAAAAAAAAAA`);
    expect(verifyCallerToken(forged, KEY, at(0))).toEqual({ valid: false, reason: 'lifetime too long' });
    const fine = signed(`v1.${NOW / 1000 + 60}.AAAAAAAAAAAAAAAAAAAAAA`);
    expect(verifyCallerToken(fine, KEY, at(0)).valid).toBe(true);
  });

  it('name what is wrong with something that is not a token at all', () => {
    expect(verifyCallerToken('', KEY)).toEqual({ valid: false, reason: 'malformed' });
    expect(verifyCallerToken(KEY, KEY)).toEqual({ valid: false, reason: 'malformed' });
    expect(verifyCallerToken('v1.123.abc', KEY)).toEqual({ valid: false, reason: 'malformed' });
    expect(verifyCallerToken('v1.soon.AAAAAAAAAAAAAAAAAAAAAA.' + 'A'.repeat(43), KEY)).toEqual({ valid: false, reason: 'malformed' });
    expect(verifyCallerToken('v2.1795000000.AAAAAAAAAAAAAAAAAAAAAA.' + 'A'.repeat(43), KEY)).toEqual({ valid: false, reason: 'unsupported version' });
    expect(looksLikeCallerToken(issueCallerToken(KEY).token)).toBe(true);
    expect(looksLikeCallerToken('tok-3f9a1c7e55d2b804')).toBe(false);
  });
});

/** Stream tickets (functions/access/stream-tickets.ts): caller tokens under their own key, for a Twilio stream's start. */
describe('stream tickets', () => {
  const ticketOf = (payload: string) => {
    const derived = createHmac('sha256', KEY).update('voice-agent/stream-ticket/v1').digest();
    return `${payload}.${createHmac('sha256', derived).update(payload).digest('base64url')}`;
  };

  it('admit a start for two minutes, under their own key: a caller token is no ticket and a ticket no caller token', () => {
    const ticket = issueStreamTicket(KEY, NOW);
    const expiry = Number(ticket.split('.')[1]);
    expect(expiry).toBe(NOW / 1000 + STREAM_TICKET_LIFETIME_SECONDS);
    expect(ticketOf(ticket.slice(0, ticket.lastIndexOf('.')))).toBe(ticket);
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: ticket }, KEY, NOW)).toBeUndefined();
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: ticket }, KEY, NOW + 119_000)).toBeUndefined();
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: ticket }, KEY, NOW + 120_000)).toBe('expired');
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: ticket }, 'another-key', NOW)).toBe('bad signature');
    // Purposes do not mix: the open browser-token route must not hand out stream tickets, nor a ticket open a call.
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: issueCallerToken(KEY, at(0)).token }, KEY, NOW)).toBe('bad signature');
    expect(verifyCallerToken(ticket, KEY, at(0))).toEqual({ valid: false, reason: 'bad signature' });
  });

  it('refuse a start without one, or with something that is not one', () => {
    expect(streamTicketRefusal(undefined, KEY, NOW)).toBe('missing');
    expect(streamTicketRefusal({ callSid: 'CA1' }, KEY, NOW)).toBe('missing');
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: '' }, KEY, NOW)).toBe('missing');
    expect(streamTicketRefusal({ [STREAM_TICKET_PARAMETER]: 'let-me-in' }, KEY, NOW)).toBe('malformed');
  });
});
