import { DtmfMessage, formatOf, markName, MediaMessage, outbound, parseMessage, ProtocolError, StartMessage, StopMessage } from '../../functions/domain/protocol';

// Shapes as Twilio documents them (counters are strings).
const twilioStart = {
  event: 'start',
  sequenceNumber: '1',
  start: {
    accountSid: 'ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    callSid: 'CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: { FirstName: 'Jane' },
  },
  streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
};
const twilioMedia = {
  event: 'media',
  sequenceNumber: '3',
  media: { track: 'inbound', chunk: '1', timestamp: '5', payload: 'no+JhoaJjpzS/w==' },
  streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
};

describe('inbound messages', () => {
  it('accepts Twilio start and media messages and turns counters into numbers', () => {
    const start = parseMessage(StartMessage, JSON.stringify(twilioStart));
    expect(start.sequenceNumber).toBe(1);
    expect(formatOf(start)).toEqual({ encoding: 'mulaw', sampleRate: 8000 });
    const media = parseMessage(MediaMessage, JSON.stringify(twilioMedia));
    expect(media.media).toMatchObject({ chunk: 1, timestamp: 5 });
  });

  it('accepts linear PCM 16 kHz declared at start', () => {
    const start = parseMessage(
      StartMessage,
      JSON.stringify({ ...twilioStart, start: { ...twilioStart.start, mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 } } }),
    );
    expect(formatOf(start)).toEqual({ encoding: 'pcm16', sampleRate: 16000 });
  });

  it.each([
    ['malformed JSON', '{"event":"media",', /malformed JSON/],
    ['empty', '', /empty message/],
    ['missing streamSid', JSON.stringify({ ...twilioMedia, streamSid: undefined }), /invalid streamSid/],
    ['invalid base64', JSON.stringify({ ...twilioMedia, media: { ...twilioMedia.media, payload: 'not base64!!' } }), /invalid media.payload: payload is not valid base64/],
    ['negative chunk', JSON.stringify({ ...twilioMedia, media: { ...twilioMedia.media, chunk: -1 } }), /invalid media.chunk/],
    ['missing media', JSON.stringify({ event: 'media', sequenceNumber: '1', streamSid: 'MZ1' }), /invalid media/],
  ])('rejects %s with a reason', (_name, body, reason) => {
    expect(() => parseMessage(MediaMessage, body)).toThrow(ProtocolError);
    expect(() => parseMessage(MediaMessage, body)).toThrow(reason);
  });

  it('rejects binary frames', () => {
    expect(() => parseMessage(MediaMessage, Buffer.from('x').toString('base64'), true)).toThrow(/binary frame/);
  });

  it('rejects a DTMF digit that is not a key', () => {
    const body = JSON.stringify({ event: 'dtmf', sequenceNumber: '5', streamSid: 'MZ1', dtmf: { track: 'inbound_track', digit: '12' } });
    expect(() => parseMessage(DtmfMessage, body)).toThrow(/invalid dtmf.digit/);
  });

  it('accepts stop without a stop body', () => {
    expect(parseMessage(StopMessage, JSON.stringify({ event: 'stop', sequenceNumber: '9', streamSid: 'MZ1' })).sequenceNumber).toBe(9);
  });

  it('rejects an unsupported rate for a declared encoding', () => {
    const start = parseMessage(
      StartMessage,
      JSON.stringify({ ...twilioStart, start: { ...twilioStart.start, mediaFormat: { encoding: 'audio/l16', sampleRate: 8000, channels: 1 } } }),
    );
    expect(() => formatOf(start)).toThrow(/only supported at 16000/);
  });
});

describe('outbound messages', () => {
  it('builds Twilio media, mark and clear messages', () => {
    expect(JSON.parse(outbound.media('MZ1', new Uint8Array([1, 2, 3])))).toEqual({ event: 'media', streamSid: 'MZ1', media: { payload: 'AQID' } });
    expect(JSON.parse(outbound.mark('MZ1', 't2-end'))).toEqual({ event: 'mark', streamSid: 'MZ1', mark: { name: 't2-end' } });
    expect(JSON.parse(outbound.clear('MZ1'))).toEqual({ event: 'clear', streamSid: 'MZ1' });
  });

  it('round-trips mark names and rejects foreign ones', () => {
    expect(markName.parse(markName.segment(3, 1))).toEqual({ turn: 3, end: false, index: 1 });
    expect(markName.parse(markName.end(12))).toEqual({ turn: 12, end: true });
    expect(markName.parse('my label')).toBeUndefined();
  });
});
