#!/usr/bin/python3
"""Long-lived pocketsphinx decoder serving JSON lines over stdin/stdout.

Run with Debian's interpreter (/usr/bin/python3): python3-pocketsphinx is not importable elsewhere.

    /usr/bin/python3 decoder.py CONFIG.json

CONFIG: {"hmm": dir, "dict": path, "fullLm": path, "searches": {name: arpaPath}, "defaultSearch": name,
         "minConfidence": 0..1, "minAcousticRatio": 0..1, "logfn": path}

Protocol (one JSON object per line each way; audio is base64 PCM16 LE, 16 kHz, mono, one whole utterance):
    -> {"id": 1, "audio": "...", "context": "name"|null, "mode": "auto"|"domain"|"full"}
    <- {"id": 1, "text": "...", "confidence": 0.93, "engine": "domain"|"context:<name>"|"full", "decodeMs": 81.2,
        "fallback": false, "frames": 230}
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
    def __init__(self, cfg):
        c = Decoder.default_config()
        c.set_string('-hmm', cfg['hmm'])
        c.set_string('-dict', cfg['dict'])
        c.set_string('-lm', cfg['fullLm'])
        c.set_string('-logfn', cfg.get('logfn') or os.devnull)
        self.d = Decoder(c)
        self.logmath = self.d.get_logmath()
        self.searches = {}
        for name, path in (cfg.get('searches') or {}).items():
            self.d.set_lm_file(name, path)
            self.searches[name] = path
        self.d.set_allphone_file('_phones', cfg['phoneLm']) if cfg.get('phoneLm') else None
        self.has_phones = bool(cfg.get('phoneLm'))
        self.full = self.d.get_search()  # the search created from -lm (named "_default")
        self.default = cfg.get('defaultSearch') or (next(iter(self.searches)) if self.searches else self.full)
        self.min_conf = float(cfg.get('minConfidence', 0.5))
        self.min_ratio = float(cfg.get('minAcousticRatio', 0.0))

    def _run(self, search, pcm):
        if self.d.get_search() != search:
            self.d.set_search(search)
        self.d.start_utt()
        self.d.process_raw(pcm, False, True)
        self.d.end_utt()
        hyp = self.d.hyp()
        words, posts, ascore = [], [], 0
        for s in self.d.seg():
            ascore += s.ascore
            if s.word in FILLERS or s.word.startswith('['):
                continue
            words.append(s.word.split('(')[0])
            posts.append(self.logmath.exp(s.prob))
        return {
            'text': ' '.join(words),
            'wordPosteriors': posts,
            'sentencePosterior': self.logmath.exp(hyp.prob) if hyp else 0.0,
            'bestScore': hyp.best_score if hyp else 0,
            'ascore': ascore,
            'frames': self.d.n_frames(),
        }

    @staticmethod
    def confidence(r):
        posts = r['wordPosteriors']
        return 0.0 if not posts else min(posts)

    def decode(self, pcm, context=None, mode='auto', debug=False):
        t0 = time.perf_counter()
        out = {}
        if mode == 'full' or not self.searches:
            r = self._run(self.full, pcm)
            out = {'text': r['text'], 'confidence': self.confidence(r), 'engine': 'full', 'fallback': False}
        else:
            search = context if context and context in self.searches else self.default
            r = self._run(search, pcm)
            conf = self.confidence(r)
            engine = 'domain' if search == self.default else 'context:' + search
            if debug and self.has_phones:
                p = self._run('_phones', pcm)
                out['phoneAscore'] = p['ascore']
            low = r['text'] == '' or conf < self.min_conf
            if mode == 'auto' and low:
                f = self._run(self.full, pcm)
                out.update({'text': f['text'], 'confidence': self.confidence(f), 'engine': 'full', 'fallback': True,
                            'domainText': r['text'], 'domainConfidence': conf})
                r = f
            else:
                out.update({'text': r['text'], 'confidence': conf, 'engine': engine, 'fallback': False})
        out['frames'] = r['frames']
        if debug:
            out['debug'] = r
        out['decodeMs'] = round((time.perf_counter() - t0) * 1000, 1)
        return out


def main():
    if len(sys.argv) != 2:
        print('usage: decoder.py CONFIG.json', file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding='utf-8') as f:
        cfg = json.load(f)
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
            res = engine.decode(pcm, req.get('context'), req.get('mode') or 'auto', bool(req.get('debug')))
            res['id'] = rid
            send(res)
        except Exception as e:  # keep serving; the caller maps this to an error
            send({'id': rid, 'error': '%s: %s' % (type(e).__name__, e)})
    return 0


if __name__ == '__main__':
    sys.exit(main())
