#!/usr/bin/python3
"""Long-lived pocketsphinx decoder serving JSON lines over stdin/stdout.

Run with Debian's interpreter (/usr/bin/python3): python3-pocketsphinx is not importable elsewhere.

    /usr/bin/python3 decoder.py CONFIG.json

CONFIG: {"hmm": dir, "domainDict": path, "searches": {name: arpaPath}, "defaultSearch": name,
         "fullDict": path, "fullLm": path, "rejectBelow": 0..1, "verifyBelow": 0..1, "logfn": path}

Protocol (one JSON object per line each way; audio is base64 PCM16 LE, 16 kHz, mono, one whole utterance):
    -> {"id": 1, "audio": "...", "context": "name"|null, "mode": "auto"|"domain"|"full"}
    <- {"id": 1, "text": "...", "confidence": 0.93, "engine": "domain"|"context:<name>"|"full", "decodeMs": 81.2,
        "fallback": false, "frames": 230, ...}
    <- {"id": 1, "error": "..."}                  (request failed; the process keeps serving)
The first line written is {"ready": true, "loadMs": ...} once the decoder is loaded.
"""
import base64
import json
import math
import os
import sys
import time

# Keep the protocol on a private copy of stdout; anything printed by the C library goes to stderr instead.
_proto = os.fdopen(os.dup(1), 'w', buffering=1, encoding='utf-8')
os.dup2(2, 1)
sys.stdout = sys.stderr

from pocketsphinx import Decoder  # noqa: E402  (after the fd shuffle on purpose)

FILLERS = {'<s>', '</s>', '<sil>', '[NOISE]', '(NULL)', '[SPEECH]', '[BREATH]', '[COUGH]', '[SMACK]', '[UM]', '[UH]'}


def send(obj):
    _proto.write(json.dumps(obj, separators=(',', ':')) + '\n')
    _proto.flush()


class Engine:
    """Two decoders sharing one acoustic model: a domain decoder (corpus dictionary; one n-gram search per domain or
    context LM) and the full en-us decoder (cmudict + en-us LM) used as the free-text fallback.

    Decision for mode "auto":
      domain text empty, or min word posterior < rejectBelow          -> full decode, full text
      rejectBelow <= min word posterior < verifyBelow                 -> full decode; keep the domain text unless the
                                                                         full decode fits the audio better (acoustic
                                                                         score per frame), i.e. the speech is off-domain
      min word posterior >= verifyBelow                               -> domain text
    Measured on flite rms at 16 kHz and 8 kHz mu-law: with the check always on, 12/12 corpus sentences kept the domain
    text and 11/12 off-domain ones went to the full model (the 12th was rejected by its posterior anyway).
    (A tiny LM has few competitors, so its posteriors overestimate; the acoustic comparison catches off-domain speech
    that the domain LM forces onto in-domain words.)
    """

    def __init__(self, cfg):
        self.domain = None
        self.searches = {}
        logfn = cfg.get('logfn') or os.devnull
        if cfg.get('searches'):
            c = Decoder.default_config()
            c.set_string('-hmm', cfg['hmm'])
            c.set_string('-dict', cfg['domainDict'])
            c.set_string('-logfn', logfn)
            names = list(cfg['searches'])
            c.set_string('-lm', cfg['searches'][names[0]])
            self.domain = Decoder(c)
            # The -lm search is named "_default"; register every LM under its own name.
            for name in names:
                self.domain.set_lm_file(name, cfg['searches'][name])
                self.searches[name] = cfg['searches'][name]
        c = Decoder.default_config()
        c.set_string('-hmm', cfg['hmm'])
        c.set_string('-dict', cfg['fullDict'])
        c.set_string('-lm', cfg['fullLm'])
        c.set_string('-logfn', logfn)
        # Free speech must be decoded in a fraction of its length (a caller waits for it). Measured on the 16 real
        # recordings of tools/bench/recordings.ts (53 s of speech, this decoder alone, one core, 2026-12-07, with a
        # one-off script over a grid of settings, not kept): the defaults took 13.5 s at 56.6 % word error (3.8 % on
        # four synthetic 8 kHz sentences); without the second, flat-lexicon pass and with at most 3,000 active HMMs a
        # frame, 7.2 s at 54.1 % (synthetic: 3.8 %). Narrower beams or every other frame only (-ds 2) were faster
        # still but lost synthetic 8 kHz speech (27 % word error). The recognizer as the stack uses it (domain LM, then
        # this decoder) on the same recordings: `npx tsx tools/bench/offline-speech.ts --recordings`.
        c.set_boolean('-fwdflat', False)
        c.set_int('-maxhmmpf', 3000)
        self.full = Decoder(c)
        self.logmath = self.full.get_logmath()
        self.default = cfg.get('defaultSearch') or (next(iter(self.searches)) if self.searches else None)
        self.reject_below = float(cfg.get('rejectBelow', 0.35))
        self.verify_below = float(cfg.get('verifyBelow', 0.95))

    def _run(self, dec, search, pcm):
        if search is not None and dec.get_search() != search:
            dec.set_search(search)
        dec.start_utt()
        dec.process_raw(pcm, False, True)
        dec.end_utt()
        words, posts, ascore = [], [], 0
        for s in dec.seg():
            ascore += s.ascore
            if s.word in FILLERS or s.word.startswith('['):
                continue
            words.append(s.word.split('(')[0])
            posts.append(self.logmath.exp(s.prob))
        frames = dec.n_frames()
        return {
            'text': ' '.join(words),
            'confidence': round(min(posts), 4) if posts else 0.0,
            'ascorePerFrame': ascore / frames if frames else 0.0,
            'frames': frames,
        }

    def decode(self, pcm, context=None, mode='auto'):
        t0 = time.perf_counter()
        if mode == 'full' or self.domain is None:
            r = self._run(self.full, None, pcm)
            out = {'text': r['text'], 'confidence': r['confidence'], 'engine': 'full', 'fallback': False}
        else:
            search = context if context and context in self.searches else self.default
            engine = 'domain' if search == self.default else 'context:' + search
            r = self._run(self.domain, search, pcm)
            out = {'text': r['text'], 'confidence': r['confidence'], 'engine': engine, 'fallback': False}
            conf = r['confidence']
            if mode == 'auto' and (r['text'] == '' or conf < self.verify_below):
                f = self._run(self.full, None, pcm)
                off_domain = r['text'] == '' or conf < self.reject_below or (
                    f['text'] != '' and f['ascorePerFrame'] > r['ascorePerFrame'])
                verify = {'domainAscorePerFrame': round(r['ascorePerFrame']), 'fullAscorePerFrame': round(f['ascorePerFrame']),
                          'fullText': f['text']}
                if off_domain:
                    out = {'text': f['text'], 'confidence': f['confidence'], 'engine': 'full', 'fallback': True,
                           'domainText': r['text'], 'domainConfidence': conf}
                    r = f
                out['verify'] = verify
        out['frames'] = r['frames']
        out['decodeMs'] = round((time.perf_counter() - t0) * 1000, 1)
        return out


def _die_with_parent():
    """Ask the kernel for SIGTERM when the parent (the Node wrapper) dies, so no decoder outlives it."""
    try:
        import ctypes
        import signal
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def main():
    if len(sys.argv) != 2:
        print('usage: decoder.py CONFIG.json', file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding='utf-8') as f:
        cfg = json.load(f)
    _die_with_parent()
    t0 = time.perf_counter()
    engine = Engine(cfg)
    send({'ready': True, 'pid': os.getpid(), 'loadMs': round((time.perf_counter() - t0) * 1000, 1),
          'searches': sorted(engine.searches)})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get('id')
            pcm = base64.b64decode(req.get('audio') or '')
            if len(pcm) % 2:
                pcm = pcm[:-1]
            res = engine.decode(pcm, req.get('context'), req.get('mode') or 'auto')
            res['id'] = rid
            send(res)
        except Exception as e:  # keep serving; the caller maps this to an error
            send({'id': rid, 'error': '%s: %s' % (type(e).__name__, e)})
    return 0


if __name__ == '__main__':
    sys.exit(main())
