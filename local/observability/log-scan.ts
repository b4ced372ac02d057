/**
 * Issue 7: no audio, tokens or keys in any log line. Scans function log files (what LogSink writes: the local
 * CloudWatch log groups) for
 *   - audio: long base64 runs that decode to binary, long hex runs, arrays / typed arrays / Buffers of sample values;
 *   - secrets: the exact values a stack holds (caller token, Twilio auth token, vendor keys, the caller-token HMAC
 *     key), and, by shape alone, caller tokens, `token=` query values, credential headers (Authorization,
 *     X-Twilio-Signature, xi-api-key, Deepgram `Token …`), AWS keys and session tokens, private keys, and any
 *     JSON field named like a secret.
 * A finding carries the file, line number, kind and an excerpt with every match redacted: the report must not
 * become the leak it reports.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LogSink } from './log-sink';

export type FindingKind =
  | 'audio-base64'
  | 'audio-hex'
  | 'audio-bytes'
  | 'known-secret'
  | 'caller-token'
  | 'token-query'
  | 'secret-field'
  | 'auth-header'
  | 'twilio-signature'
  | 'xi-api-key'
  | 'deepgram-token'
  | 'aws-access-key-id'
  | 'aws-secret'
  | 'private-key';

export interface Finding {
  readonly file: string;
  /** 1-based, in the whole file. */
  readonly line: number;
  readonly kind: FindingKind;
  /** Which known secret, or what the pattern saw (never the value). */
  readonly detail: string;
  /** The line around the match, with every match on the line replaced by `[kind: N chars]`. */
  readonly excerpt: string;
}

/** A value that must never appear in a log line. Only the name is ever reported. */
export interface KnownSecret {
  readonly name: string;
  readonly value: string;
}

export interface FileScan {
  readonly file: string;
  /** The first line scanned (1-based): a LogSink appends, so a stack scans only what it wrote. */
  readonly fromLine: number;
  readonly lines: number;
}

export interface LogScanReport {
  readonly dir: string;
  readonly scannedAt: string;
  readonly pid: number;
  readonly files: readonly FileScan[];
  readonly lines: number;
  readonly findings: readonly Finding[];
  /** Names of the known secrets looked for (values never written). */
  readonly secretsChecked: readonly string[];
  /** Known secrets too short to look for without matching ordinary words (e.g. the local stack's `local` AWS key). */
  readonly secretsSkipped: readonly string[];
}

/** The file a stack writes next to its logs; `scans` keeps one entry per stop (a dir can outlive many stacks). */
export const LOG_SCAN_FILE = 'log-scan.json';
export interface LogScanFile {
  readonly version: 1;
  readonly scans: readonly LogScanReport[];
}

/**
 * Base64 runs at least this long are checked as audio. A Twilio 20 ms μ-law frame is 160 bytes = 216 characters,
 * a browser 20 ms PCM16 frame 640 bytes = 856; 96 characters (72 bytes, 9 ms of μ-law) still catches half a frame
 * or a truncated payload, and sits above every id and digest a log line carries legitimately: connection ids (16),
 * caller-token MACs (43), SHA-256 (44 base64 / 64 hex), SHA-512 in base64 (88). Hex is excluded from this rule
 * (hashes are hex) and has its own, longer threshold.
 */
export const AUDIO_BASE64_MIN_CHARS = 96;
/** Hex runs: above SHA-512 (128 hex characters), below one μ-law frame (320). */
export const AUDIO_HEX_MIN_CHARS = 256;
/** Numeric arrays: at least 4 ms of 8 kHz samples; EMF metric value arrays (up to 100 per metric) are exempt. */
export const AUDIO_ARRAY_MIN_VALUES = 32;
/** Known secrets shorter than this are skipped: they would match ordinary words. */
export const KNOWN_SECRET_MIN_CHARS = 8;

interface Match {
  readonly kind: FindingKind;
  readonly start: number;
  readonly end: number;
  readonly detail: string;
}

const PLACEHOLDER = /^(?:|\*+|x+|\[?redacted\]?|<redacted>|\(redacted\)|\[hidden\]|null|undefined|none|present|absent|missing|true|false)$/i;

/**
 * Whether decoded bytes read as text: all but a few printable ASCII, and mostly letters, digits and spaces. Audio is
 * not: speech crosses zero within a few ms, and μ-law's other polarity is 0x80–0xFF (PCM16 likewise has high bytes).
 */
function decodesToText(bytes: Buffer): boolean {
  let printable = 0;
  let alnum = 0;
  for (const b of bytes) {
    if ((b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d) printable++;
    if (b === 0x20 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) alnum++;
  }
  return bytes.length > 0 && printable / bytes.length >= 0.95 && alnum / bytes.length >= 0.5;
}

/**
 * Whether a base64 run encodes audio rather than spelling words. Decoded text (base64 of JSON, say) is mostly
 * alphanumeric.
 * A run of lowercase words (a path in a stack trace, a long joined identifier) also decodes to junk, so it is told
 * apart by its characters: base64 of audio mixes cases and digits, or, for silence, repeats a few symbols (`////` is
 * μ-law 0xFF).
 */
function looksLikeAudioBase64(run: string): boolean {
  const body = run.replace(/=+$/, '');
  // Hex (a digest, a commit): its own rule. Single-case, digits and letters; `AAAA…` (base64 of zeros) is not hex text.
  if ((/^[0-9a-f]+$/.test(body) || /^[0-9A-F]+$/.test(body)) && /\d/.test(body) && /[a-fA-F]/.test(body)) return false;
  const bytes = Buffer.from(body, body.includes('-') || body.includes('_') ? 'base64url' : 'base64');
  if (decodesToText(bytes)) return false;
  // Base64 of audio is ~40% lowercase (26 of 64 symbols), of silence ~0%; paths and joined words are mostly lowercase.
  const lower = (body.match(/[a-z]/g) ?? []).length / body.length;
  return lower <= 0.75;
}

function* regexMatches(re: RegExp, line: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    yield m;
    if (m[0].length === 0) re.lastIndex++;
  }
}

/** The span of capture group `g` (the value), falling back to the whole match. */
function groupSpan(m: RegExpExecArray, g: number): [number, number] {
  const value = m[g];
  if (value === undefined) return [m.index, m.index + m[0].length];
  const at = m[0].lastIndexOf(value);
  return [m.index + at, m.index + at + value.length];
}

const BASE64_RUN = new RegExp(`[A-Za-z0-9+/]{${AUDIO_BASE64_MIN_CHARS},}={0,2}|[A-Za-z0-9_-]{${AUDIO_BASE64_MIN_CHARS},}`, 'g');
const HEX_RUN = new RegExp(`(?<![0-9A-Za-z])[0-9a-fA-F]{${AUDIO_HEX_MIN_CHARS},}(?![0-9A-Za-z])`, 'g');
const NUMBER = String.raw`-?\d{1,6}(?:\.\d+)?`;
const SEP = String.raw`\s*,\s*`;
/** `[1,2,3…]` (JSON arrays, Buffer.toJSON's data) and `Uint8Array(160) [ 1, 2 …` (util.inspect, console.log). */
const NUMBER_ARRAY = new RegExp(String.raw`("[^"]*"\s*:\s*)?\[\s*${NUMBER}(?:${SEP}${NUMBER}){${AUDIO_ARRAY_MIN_VALUES - 1},}`, 'g');
/** A typed array through JSON.stringify: `{"0":255,"1":127,…}`. */
const INDEXED_OBJECT = new RegExp(String.raw`\{\s*"0"\s*:\s*${NUMBER}(?:\s*,\s*"\d+"\s*:\s*${NUMBER}){${AUDIO_ARRAY_MIN_VALUES - 1},}`, 'g');
/** util.inspect of a Buffer: `<Buffer ff 7f …>` (16 bytes is already more than any id the code logs as a Buffer). */
const INSPECTED_BUFFER = /<Buffer(?: [0-9a-f]{2}){16,}/g;
const INSPECTED_TYPED_ARRAY = new RegExp(String.raw`\b(?:Uint8|Int8|Uint8Clamped|Int16|Uint16|Int32|Float32|Float64)Array\((\d+)\)`, 'g');

/** `v1.<expiry>.<nonce>.<mac>` (functions/access/caller-tokens.ts), any version. */
const CALLER_TOKEN = /(?<![A-Za-z0-9_.-])v\d{1,3}\.\d{1,12}\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
/** A token in a query string, raw or inside a logged URL; `token=` alone (empty) is not a leak. */
const TOKEN_QUERY = /[?&](?:token|access_token|api_key|apikey|key|signature|X-Amz-Security-Token|X-Amz-Signature)=([^&\s"'#\\]+)/gi;
/**
 * Any JSON (or JS-inspected) field whose name says it holds a secret, with a string value; also inside a JSON string
 * (a serialized body in an error message: `\"token\":\"…\"`).
 */
const SECRET_FIELD =
  /\\?["']?([A-Za-z0-9_$-]*(?:token|api[_-]?key|secret|secret[_-]?access[_-]?key|password|passwd|authorization|signature|secret[_-]?string|credentials?))\\?["']?\s*[:=]\s*\\?"([^"\\]*)/gi;
const AUTH_HEADER = /\bauthorization["']?\s*[:=]\s*["']?((?:Bearer|Basic|Token|Digest|AWS4-HMAC-SHA256)\s+[^"'\s,}]+|[^"'\s,}]{8,})/gi;
const TWILIO_SIGNATURE = /x-twilio-signature["']?\s*[:=]\s*["']?([A-Za-z0-9+/=]{16,})/gi;
const XI_API_KEY = /xi-api-key["']?\s*[:=]\s*["']?([^"'\s,}]{8,})/gi;
/** Deepgram's `Authorization: Token <key>` and its WebSocket subprotocol form `token, <key>`. */
const DEEPGRAM_TOKEN = /\bToken\s+([A-Za-z0-9]{20,})|sec-websocket-protocol["']?\s*[:=]\s*["']?token\s*,\s*([A-Za-z0-9]{20,})/g;
const AWS_ACCESS_KEY_ID = /(?<![A-Z0-9])(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])/g;
const AWS_SECRET =
  /(?:aws_?secret_?access_?key|secret_?access_?key|aws_?session_?token|session_?token|x-amz-security-token)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=%_-]{8,})/gi;
/** SigV4: `Signature=<64 hex>` in an Authorization header or a presigned URL. */
const SIGV4_SIGNATURE = /\bSignature=([0-9a-f]{64})\b/g;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/g;

/** Metric names declared by an Embedded Metric Format document: their value arrays are numbers by design. */
function emfMetricNames(line: string): Set<string> {
  const names = new Set<string>();
  if (!line.includes('"_aws"') || !line.includes('CloudWatchMetrics')) return names;
  try {
    const doc = JSON.parse(line.slice(line.indexOf('{'))) as { _aws?: { CloudWatchMetrics?: { Metrics?: { Name?: string }[] }[] } };
    for (const d of doc._aws?.CloudWatchMetrics ?? []) for (const m of d.Metrics ?? []) if (m.Name) names.add(m.Name);
  } catch {
    // Not one JSON document: no exemption.
  }
  return names;
}

/** Every form a known value could take in a line: as is, URL-encoded, JSON-escaped. */
function secretForms(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])];
}

/** Finds every match in one line, one per leak. Exported for the tests; files go through `scanFile`. */
export function scanLine(line: string, secrets: readonly KnownSecret[] = []): Match[] {
  return dedupe(allMatches(line, secrets));
}

/** Every match of every detector, overlapping ones included: what an excerpt must mask. */
function allMatches(line: string, secrets: readonly KnownSecret[]): Match[] {
  const out: Match[] = [];
  const add = (kind: FindingKind, start: number, end: number, detail: string) => out.push({ kind, start, end, detail });

  for (const s of secrets) {
    if (s.value.length < KNOWN_SECRET_MIN_CHARS) continue;
    for (const form of secretForms(s.value)) {
      for (let at = line.indexOf(form); at >= 0; at = line.indexOf(form, at + 1)) add('known-secret', at, at + form.length, s.name);
    }
  }
  for (const m of regexMatches(CALLER_TOKEN, line)) add('caller-token', m.index, m.index + m[0].length, 'v1.<expiry>.<nonce>.<mac> shape');
  for (const m of regexMatches(TOKEN_QUERY, line)) {
    const [a, b] = groupSpan(m, 1);
    if (!PLACEHOLDER.test(m[1]!)) add('token-query', a, b, `${m[0].slice(1, m[0].indexOf('='))}= value`);
  }
  for (const m of regexMatches(SECRET_FIELD, line)) {
    const [a, b] = groupSpan(m, 2);
    if (!PLACEHOLDER.test(m[2]!)) add('secret-field', a, b, `field "${m[1]}"`);
  }
  for (const m of regexMatches(AUTH_HEADER, line)) {
    const [a, b] = groupSpan(m, 1);
    if (!PLACEHOLDER.test(m[1]!)) add('auth-header', a, b, 'Authorization value');
  }
  for (const m of regexMatches(TWILIO_SIGNATURE, line)) add('twilio-signature', ...groupSpan(m, 1), 'X-Twilio-Signature value');
  for (const m of regexMatches(XI_API_KEY, line)) add('xi-api-key', ...groupSpan(m, 1), 'xi-api-key value');
  for (const m of regexMatches(DEEPGRAM_TOKEN, line)) add('deepgram-token', ...groupSpan(m, m[1] !== undefined ? 1 : 2), 'Deepgram Token auth');
  for (const m of regexMatches(AWS_ACCESS_KEY_ID, line)) add('aws-access-key-id', m.index, m.index + m[0].length, 'AWS access key id');
  for (const m of regexMatches(AWS_SECRET, line)) add('aws-secret', ...groupSpan(m, 1), 'AWS secret key or session token');
  for (const m of regexMatches(SIGV4_SIGNATURE, line)) add('aws-secret', ...groupSpan(m, 1), 'SigV4 signature');
  for (const m of regexMatches(PRIVATE_KEY, line)) add('private-key', m.index, m.index + m[0].length, 'PEM private key');

  for (const m of regexMatches(BASE64_RUN, line)) {
    if (looksLikeAudioBase64(m[0])) add('audio-base64', m.index, m.index + m[0].length, `${m[0].length}-char base64 run decoding to binary`);
  }
  for (const m of regexMatches(HEX_RUN, line)) add('audio-hex', m.index, m.index + m[0].length, `${m[0].length}-char hex run`);
  let metricNames: Set<string> | undefined;
  for (const m of regexMatches(NUMBER_ARRAY, line)) {
    const key = m[1] ? /"([^"]*)"/.exec(m[1])?.[1] : undefined;
    if (key !== undefined && (metricNames ??= emfMetricNames(line)).has(key)) continue;
    add('audio-bytes', m.index + (m[1]?.length ?? 0), m.index + m[0].length, 'array of sample or byte values');
  }
  for (const m of regexMatches(INDEXED_OBJECT, line)) add('audio-bytes', m.index, m.index + m[0].length, 'typed array serialized as an object');
  for (const m of regexMatches(INSPECTED_BUFFER, line)) add('audio-bytes', m.index, m.index + m[0].length, 'inspected Buffer');
  for (const m of regexMatches(INSPECTED_TYPED_ARRAY, line)) {
    if (Number(m[1]) >= AUDIO_ARRAY_MIN_VALUES) add('audio-bytes', m.index, m.index + m[0].length, 'inspected typed array');
  }
  return out;
}

const GENERIC: ReadonlySet<FindingKind> = new Set(['secret-field']);
/**
 * One finding per leak: of overlapping matches the most specific is kept — the known secret's name, then a named
 * shape or header (caller token, Deepgram `Token`, AWS, Authorization), then any secret-named field, then audio; within
 * a rank the tightest span (`Token <key>`'s key before the whole Authorization value).
 */
function dedupe(matches: Match[]): Match[] {
  const rank = (k: FindingKind) => (k === 'known-secret' ? 0 : GENERIC.has(k) ? 2 : k.startsWith('audio') ? 3 : 1);
  const sorted = [...matches].sort((a, b) => rank(a.kind) - rank(b.kind) || a.end - a.start - (b.end - b.start));
  const kept: Match[] = [];
  for (const m of sorted) if (!kept.some((k) => m.start < k.end && k.start < m.end)) kept.push(m);
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * The line around a match, every matched span replaced: the excerpt shows where, never what. `masked` holds every
 * detector's match, overlapping ones included: the finding kept for a leak may be the tighter of two spans (an AWS
 * session token's shape stops where a field's value goes on), and what the other one covered must not show either.
 */
export function redactedExcerpt(line: string, masked: readonly Match[], focus: Match, context = 60): string {
  const spans = [...masked, focus].sort((a, b) => a.start - b.start || b.end - a.end);
  let text = '';
  let at = 0;
  let focusAt = -1;
  for (let i = 0; i < spans.length; ) {
    const start = spans[i]!.start;
    let end = spans[i]!.end;
    let j = i;
    let holdsFocus = false;
    for (; j < spans.length && spans[j]!.start < end; j++) {
      end = Math.max(end, spans[j]!.end);
      holdsFocus ||= spans[j] === focus;
    }
    text += line.slice(at, start);
    if (holdsFocus && focusAt < 0) focusAt = text.length;
    text += holdsFocus ? `[${focus.kind}: ${end - start} chars]` : `[${spans[i]!.kind}: ${end - start} chars]`;
    at = Math.max(at, end);
    i = j;
  }
  text += line.slice(at);
  const from = Math.max(0, focusAt - context);
  const to = Math.min(text.length, focusAt + context + 40);
  return (from > 0 ? '…' : '') + text.slice(from, to).replace(/[\r\n]/g, ' ') + (to < text.length ? '…' : '');
}

/** Scans one log file from a byte offset (where this writer started appending) to its end. */
export function scanFile(
  file: string,
  options: { secrets?: readonly KnownSecret[]; fromByte?: number; toByte?: number } = {},
): { scan: FileScan; findings: Finding[] } {
  const whole = readFileSync(file);
  const buf = whole.subarray(0, Math.min(options.toByte ?? whole.length, whole.length));
  const fromByte = Math.min(options.fromByte ?? 0, buf.length);
  let lineNo = 1;
  for (let i = buf.indexOf(0x0a); i >= 0 && i < fromByte; i = buf.indexOf(0x0a, i + 1)) lineNo++;
  const fromLine = lineNo;
  const text = buf.subarray(fromByte).toString('utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const findings: Finding[] = [];
  for (const line of lines) {
    const all = allMatches(line, options.secrets ?? []);
    for (const m of dedupe(all)) findings.push({ file, line: lineNo, kind: m.kind, detail: m.detail, excerpt: redactedExcerpt(line, all, m) });
    lineNo++;
  }
  return { scan: { file, fromLine, lines: lines.length }, findings };
}

/** Scans the given files (each from its offset) and summarizes. */
export function scanFiles(
  dir: string,
  files: readonly { file: string; fromByte?: number; toByte?: number }[],
  secrets: readonly KnownSecret[] = [],
): LogScanReport {
  const scans: FileScan[] = [];
  const findings: Finding[] = [];
  for (const f of files) {
    if (!existsSync(f.file)) continue;
    const r = scanFile(f.file, { secrets, fromByte: f.fromByte, toByte: f.toByte });
    scans.push(r.scan);
    findings.push(...r.findings);
  }
  const usable = secrets.filter((s) => s.value.length >= KNOWN_SECRET_MIN_CHARS);
  return {
    dir,
    scannedAt: new Date().toISOString(),
    pid: process.pid,
    files: scans,
    lines: scans.reduce((n, s) => n + s.lines, 0),
    findings,
    secretsChecked: [...new Set(usable.map((s) => s.name))],
    secretsSkipped: [...new Set(secrets.filter((s) => !usable.includes(s)).map((s) => s.name))],
  };
}

/**
 * What a stack does on stop(): scan the lines its sink wrote (and only those) for audio, the generic secret shapes and
 * its own secrets, and append the report to `<logsDir>/log-scan.json` for tools/log-scan.ts. Never throws: a stack
 * must stop; a failed scan leaves the files uncovered, and the CLI rescans them. Undefined when there was nothing to
 * scan.
 */
export function scanOwnLogs(sink: LogSink, secrets: readonly KnownSecret[]): LogScanReport | undefined {
  const dir = sink.directory;
  if (!dir) return undefined;
  try {
    const ranges = sink.unscanned();
    if (ranges.length === 0) return undefined; // nothing written since the last scan (a second stop())
    const report = scanFiles(dir, ranges, secrets);
    writeLogScan(dir, report);
    if (report.findings.length > 0) {
      console.warn(`log scan: ${report.findings.length} findings in ${dir} (audio, tokens or keys in log lines); see ${path.join(dir, LOG_SCAN_FILE)}`);
    }
    return report;
  } catch (err) {
    console.warn(`log scan of ${dir} failed: ${(err as Error).message}`);
    return undefined;
  }
}

/** Appends a report to `<dir>/log-scan.json` (keeping the last 50: one per stack that logged there). */
export function writeLogScan(dir: string, report: LogScanReport): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOG_SCAN_FILE);
  const previous = readLogScanFile(file)?.scans ?? [];
  const content: LogScanFile = { version: 1, scans: [...previous, report].slice(-50) };
  writeFileSync(file, JSON.stringify(content, null, 1) + '\n');
  return file;
}

export function readLogScanFile(file: string): LogScanFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LogScanFile;
    return parsed.version === 1 && Array.isArray(parsed.scans) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a stack's app secret holds, plus what is derived from it: the HMAC keys of caller tokens and stream tickets
 * (functions/access/caller-tokens.ts `macKey`) in every encoding a log could print them in.
 */
export function stackSecrets(appSecret: Readonly<Record<string, string | undefined>>): KnownSecret[] {
  const out: KnownSecret[] = [];
  for (const [name, value] of Object.entries(appSecret)) if (value) out.push({ name, value });
  const token = appSecret.voiceAgentToken;
  if (token) {
    for (const purpose of ['caller-token', 'stream-ticket'] as const) {
      const key = callerTokenMacKey(token, purpose);
      for (const enc of ['hex', 'base64', 'base64url'] as const) out.push({ name: `${purpose} HMAC key (${enc})`, value: key.toString(enc) });
    }
  }
  return out;
}

/** Same derivation as caller-tokens.ts (the unit test checks a token issued there verifies with this key). */
export const callerTokenMacKey = (voiceAgentToken: string, purpose: 'caller-token' | 'stream-ticket' = 'caller-token'): Buffer =>
  createHmac('sha256', voiceAgentToken).update(`voice-agent/${purpose}/v1`).digest();

/** Function log files (LogSink's `<function>.log`) under a directory tree. */
export function findLogFiles(root: string, isLogFile: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (e.isFile() && isLogFile(e.name)) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

export function findLogScanFiles(root: string): string[] {
  return findLogFiles(root, (name) => name === LOG_SCAN_FILE);
}

export const mtimeMs = (file: string): number => statSync(file).mtimeMs;
