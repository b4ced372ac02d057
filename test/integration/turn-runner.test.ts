/** The turn runner's failure paths, against a real DynamoDB API (dynalite). */
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { wireCall } from '../../functions/domain/call/wiring';
import { DEFAULT_MEDIA_CONFIG } from '../../functions/domain/call/media-processor';
import { DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';
import { DEFAULT_TURN_CONFIG, TurnRunner, turnLatency } from '../../functions/domain/call/turn-runner';
import { splitSentences } from '../../functions/domain/call/sentences';
import { frontDeskResponder } from '../../functions/domain/responder';
import { SpeechProviderError, type SpeechToText, type TextToSpeech } from '../../functions/domain/speech';
import { TELEPHONY_FORMAT } from '../../functions/contracts/audio-format';
import { bytesForMs } from '../../functions/domain/audio';
import { startTestTable, type TestTable } from '../support/dynamo';
import { LengthSpeechToText, MemoryTelemetry, RecordingSender, ToneTextToSpeech } from '../support/fakes';

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());

let n = 0;
async function setup(options: { stt?: SpeechToText; tts?: TextToSpeech; sttTimeoutMs?: number; ttsTimeoutMs?: number; fallbackText?: string } = {}) {
  const store = new DynamoCallStore(table.tableName, table.client);
  const sender = new RecordingSender();
  const telemetry = new MemoryTelemetry();
  const config = {
    ...DEFAULT_TURN_CONFIG,
    sttTimeoutMs: options.sttTimeoutMs ?? 500,
    ttsTimeoutMs: options.ttsTimeoutMs ?? 500,
    fallbackText: options.fallbackText ?? DEFAULT_TURN_CONFIG.fallbackText,
  };
  const now = () => Date.now();
  const tts = options.tts ?? new ToneTextToSpeech();
  const runner = new TurnRunner({ store, sender, stt: options.stt ?? new LengthSpeechToText(), tts, responder: frontDeskResponder, telemetry, config, now });
  const callId = `turn-${++n}`;
  const { calls } = wireCall({ store, sender, stt: new LengthSpeechToText(), tts: new ToneTextToSpeech(), responder: frontDeskResponder, telemetry, turnConfig: config, mediaConfig: { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG }, now });
  await calls.connect(callId, `conn-${n}`);
  await calls.start(callId, { event: 'start', sequenceNumber: 1, streamSid: `MZ${n}`, start: { streamSid: `MZ${n}` } }, Date.now());
  const claim = async () => (await store.claimEndpoint(callId, (await store.getCall(callId))!.lastEndpointChunk, 100 * (n + 1), true))!;
  return { store, sender, telemetry, runner, callId, claim };
}

const speechTurn = (call: Awaited<ReturnType<Awaited<ReturnType<typeof setup>>['claim']>>) => ({
  kind: 'speech' as const,
  turn: call.turnCount,
  call,
  audio: new Uint8Array(8000),
  timings: { speechEndAt: Date.now() - 400, endpointAt: Date.now() },
});

describe('turn runner', () => {
  it('answers with the fallback phrase when speech-to-text times out, and the call goes on', async () => {
    const hanging: SpeechToText = { name: 'hanging', transcribe: () => new Promise(() => undefined) };
    const w = await setup({ stt: hanging, sttTimeoutMs: 100 });
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(record).toMatchObject({ status: 'completed', intent: 'fallback', reply: DEFAULT_TURN_CONFIG.fallbackText });
    expect(record.error).toMatch(/hanging timeout/);
    expect(w.telemetry.counts.get('ProviderErrors')).toBe(1);
    expect((await w.store.getCall(w.callId))?.status).toBe('streaming');
  });

  it('answers with the fallback phrase when speech-to-text fails', async () => {
    const failing: SpeechToText = {
      name: 'failing',
      transcribe: async () => {
        throw new SpeechProviderError('failing', 'unavailable', 'HTTP 503');
      },
    };
    const w = await setup({ stt: failing });
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(record.intent).toBe('fallback');
    expect(w.sender.events('media').length).toBeGreaterThan(0);
  });

  it('fails the turn, not the call, when synthesis stalls mid-stream', async () => {
    const stalling: TextToSpeech = {
      name: 'stalling',
      async *synthesize() {
        yield new Uint8Array(800);
        await new Promise(() => undefined);
      },
    };
    const w = await setup({ tts: stalling, ttsTimeoutMs: 100 });
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(record.status).toBe('failed');
    expect(w.sender.events('mark').map((m) => m.mark.name)).toContain(`t${record.turn}-end`);
    // The broken stream, then the one new attempt at the sentence, which stalls too.
    expect(w.telemetry.counts.get('ProviderErrors')).toBe(2);
    expect(w.telemetry.counts.get('ProviderRetries')).toBe(1);
  });

  it('resumes a sentence whose stream broke mid-way: the audio already sent is skipped, the reply completes', async () => {
    const tone = new ToneTextToSpeech();
    let broken = 0;
    const breaksOnce: TextToSpeech = {
      name: 'breaks-once',
      async *synthesize(text, format, options) {
        let sent = 0;
        for await (const chunk of tone.synthesize(text, format)) {
          if (broken === 0 && sent > 0) {
            broken++;
            throw new SpeechProviderError('breaks-once', 'unavailable', 'audio stream broke');
          }
          sent += chunk.byteLength;
          yield chunk;
        }
        void options;
      },
    };
    const w = await setup({ tts: breaksOnce });
    const mediaBytes = () => w.sender.events('media').reduce((n, m) => n + Buffer.from(m.media.payload, 'base64').byteLength, 0);
    const greeting = mediaBytes();
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(broken).toBe(1);
    expect(record.status).toBe('completed');
    // Exactly the reply's audio went out, once: what the broken stream delivered was not sent again.
    const expected = splitSentences(record.reply!).reduce((n, s) => n + bytesForMs(50 * s.split(/\s+/).length, TELEPHONY_FORMAT), 0);
    expect(mediaBytes() - greeting).toBe(expected);
    expect(w.telemetry.counts.get('ProviderRetries')).toBe(1);
  });

  it('says the fallback phrase when synthesis of the reply fails before any audio, and ends the turn once', async () => {
    const fallbackAudio = new ToneTextToSpeech();
    const fallbackText = 'One moment please. Could you say that again?';
    // The reply fails; the fallback phrase is served (as the static prompt cache would, with the provider down).
    const flaky: TextToSpeech = {
      name: 'flaky',
      synthesize(text, format, options) {
        if (splitSentences(fallbackText).includes(text)) return fallbackAudio.synthesize(text, format);
        return (async function* () {
          throw new SpeechProviderError('flaky', 'unavailable', 'HTTP 503');
        })();
      },
    };
    const w = await setup({ tts: flaky, fallbackText });
    const greetingMessages = w.sender.events('media').length; // the greeting of setup()'s start
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(record.status).toBe('failed');
    expect(fallbackAudio.texts).toEqual(splitSentences(fallbackText));
    expect(record.audioMs).toBeGreaterThan(0);
    expect(w.sender.events('media').length).toBeGreaterThan(greetingMessages);
    const marks = w.sender.events('mark').map((m) => m.mark.name);
    expect(marks.filter((m) => m === `t${record.turn}-end`)).toHaveLength(1);
    expect((await w.store.getCall(w.callId))?.status).toBe('streaming');
  });

  it('ends the turn cleanly when even the fallback phrase cannot be synthesized', async () => {
    const down: TextToSpeech = {
      name: 'down',
      synthesize: () =>
        (async function* () {
          throw new SpeechProviderError('down', 'unavailable', 'HTTP 503');
        })(),
    };
    const w = await setup({ tts: down });
    const greetingMessages = w.sender.events('media').length;
    const record = await w.runner.run(speechTurn(await w.claim()));
    expect(record.status).toBe('failed');
    expect(w.sender.events('media')).toHaveLength(greetingMessages);
    expect(w.sender.events('mark').map((m) => m.mark.name).filter((m) => m.startsWith(`t${record.turn}-`))).toEqual([`t${record.turn}-end`]);
    expect(w.telemetry.counts.get('ProviderErrors')).toBe(2);
  });

  it('stops when the caller has hung up (GoneException)', async () => {
    const w = await setup();
    const call = await w.claim();
    w.sender.gone.add(call.connectionId);
    const record = await w.runner.run(speechTurn(call));
    expect(record.status).toBe('hungup');
    expect(w.telemetry.counts.get('CallerGone')).toBeGreaterThan(0);
  });

  it('stops the turn as failed when the connection refuses a post for another reason than Gone, and the call goes on', async () => {
    const synthesized: string[] = [];
    const tone = new ToneTextToSpeech();
    const tts: TextToSpeech = { name: tone.name, synthesize: (text, format) => (synthesized.push(text), tone.synthesize(text, format)) };
    const w = await setup({ tts });
    const call = await w.claim();
    let refused = 0;
    const send = w.sender.send.bind(w.sender);
    // API Gateway answering 500 to PostToConnection (after the SDK's retries): not a hang-up, not a provider failure.
    w.sender.send = async (connectionId, data) => {
      if (JSON.parse(data).event === 'media') {
        refused++;
        throw Object.assign(new Error('Internal server error'), { name: 'InternalServerErrorException' });
      }
      return send(connectionId, data);
    };
    const record = await w.runner.run(speechTurn(call));
    expect(record.status).toBe('failed');
    expect(refused).toBe(1); // the turn stopped at the first refusal
    // The first sentence and at most the prefetched next: none synthesized again as if its stream had broken.
    expect(synthesized).toHaveLength(Math.min(2, splitSentences(record.reply!).length));
    expect(w.telemetry.counts.get('ProviderErrors')).toBeUndefined();
    expect(w.telemetry.counts.get('CallerGone')).toBeUndefined();
    expect(w.telemetry.counts.get('TurnsFailed')).toBe(1);
    expect((await w.store.getCall(w.callId))?.status).toBe('streaming');
  });

  it('pipelines a multi-sentence reply: the next sentence is being synthesized while the current one streams', async () => {
    const w = await setup();
    const call = await w.claim();
    const deps = (w.runner as unknown as { deps: ConstructorParameters<typeof TurnRunner>[0] }).deps;
    const events: string[] = [];
    const tts: TextToSpeech = {
      name: 'slow',
      async *synthesize(text) {
        events.push(`start ${text}`);
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 50));
          yield new Uint8Array(800);
        }
        events.push(`end ${text}`);
      },
    };
    const twoSentences = { ...frontDeskResponder, respond: (_: unknown, state: never) => ({ text: 'First sentence. Second sentence.', state, intent: 'test' }) };
    const record = await new TurnRunner({ ...deps, tts, responder: twoSentences }).run(speechTurn(call));
    expect(record.status).toBe('completed');
    expect(events.indexOf('start Second sentence.')).toBeLessThan(events.indexOf('end First sentence.'));
    expect(record.audioMs).toBe(600);
  });

  it('stops between sentences when a newer turn was claimed', async () => {
    const w = await setup();
    const call = await w.claim();
    const deps = (w.runner as unknown as { deps: ConstructorParameters<typeof TurnRunner>[0] }).deps;
    let sentences = 0;
    const tts: TextToSpeech = {
      name: 'tone',
      async *synthesize() {
        if (++sentences === 1) await w.claim(); // the caller spoke again while the first sentence was synthesized
        yield new Uint8Array(800);
      },
    };
    const twoSentences = { ...frontDeskResponder, respond: (_: unknown, state: never) => ({ text: 'First sentence. Second sentence.', state, intent: 'test' }) };
    const runner = new TurnRunner({ ...deps, tts, responder: twoSentences });
    const record = await runner.run(speechTurn(call));
    expect(record.status).toBe('superseded');
    // The second sentence was prefetched (pipelining) but never played: only the first one's audio and mark went out.
    expect(sentences).toBe(2);
    expect(record.audioMs).toBe(100);
    const marks = w.sender.events('mark').map((m) => m.mark.name).filter((m) => m.startsWith(`t${record.turn}-`));
    expect(marks).toEqual([`t${record.turn}-s0`]);
    expect(w.telemetry.counts.get('TurnsSuperseded')).toBe(1);
  });

  it('measures turn latency from the end of speech to the first audio', () => {
    expect(turnLatency({ timings: { speechEndAt: 1000, endpointAt: 1400, firstAudioAt: 1650 } })).toBe(650);
    expect(turnLatency({ timings: { endpointAt: 1400, firstAudioAt: 1500 } })).toBe(100);
    expect(turnLatency({ timings: { endpointAt: 1400 } })).toBeUndefined();
  });
});
