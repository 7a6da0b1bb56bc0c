"""Word2Vec training speed: nlpzoo's embedder against a plain gensim call, side by side in one run.

Same corpus (the Wikipedia extract's training split), same parameters, same number of gensim
workers. Two comparisons:

- training: nlpzoo's ``fit_tokens`` against ``gensim.models.Word2Vec(sentences, ...)`` on the same
  token lists (vocabulary building and training; words per second of corpus);
- end to end: nlpzoo's ``fit`` without the closing intrinsic evaluations (tokenizer training,
  tokenizing once, training) against the same steps written directly with the ``tokenizers``
  library and gensim; gensim's own ``simple_preprocess`` tokenizer is timed too, for reference.

    python benchmarks/word2vec_speed.py [--epochs 5] [--repeats 3] [--workers 1 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", default=str(HERE / "results" / "word2vec_speed.md"))
    args = parser.parse_args()

    import gensim
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.utils import simple_preprocess

    import nlpzoo
    from nlpzoo_training.tokenization import TextTokenizer
    from nlpzoo_training import Run

    data = nlpzoo.build({"name": "wiki-extract", "seed": 0}).load()
    texts = [ex["text"] for ex in data["train"]]
    tmp = Path(tempfile.mkdtemp(prefix="w2v-speed-"))
    base = {"vector_size": 100, "window": 5, "min_count": 5, "negative": 5, "sample": 1e-3, "epochs": args.epochs}

    def gensim_call(sentences, workers):
        return GensimWord2Vec(sentences, vector_size=100, window=5, min_count=5, sg=1, hs=0, negative=5, sample=1e-3,
                              alpha=0.025, min_alpha=1e-4, epochs=args.epochs, workers=workers, seed=0)

    def hf_tokens(texts):
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

        hf = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        hf.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        hf.pre_tokenizer = pre_tokenizers.Whitespace()
        hf.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=10_000_000, min_frequency=1,
                                                                special_tokens=["[UNK]"], show_progress=False))
        return [e.tokens for e in hf.encode_batch(texts, add_special_tokens=False)]

    tok = TextTokenizer.train(texts, "word", vocab_size=10_000_000, min_frequency=1)
    sentences = tok.tokens(texts)
    words = sum(len(s) for s in sentences)
    rows = []
    for workers in args.workers:
        t_ours, t_direct, e_ours, e_direct, e_simple = [], [], [], [], []
        for r in range(args.repeats):  # interleaved: machine load drifts alike on both sides
            model = nlpzoo.build({"name": "word2vec", **base, "workers": workers})
            t0 = time.perf_counter()
            model.fit_tokens(sentences, seed=0)
            t_ours.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            gensim_call(sentences, workers)
            t_direct.append(time.perf_counter() - t0)

            model = nlpzoo.build({"name": "word2vec", **base, "workers": workers})
            run = Run.standalone(tmp / f"run-{workers}-{r}", seed=0)
            t0 = time.perf_counter()
            own = TextTokenizer.train(texts, "word", vocab_size=10_000_000, min_frequency=1)
            model.fit_tokens(own.tokens(texts), run=run, tokenizer=own)  # fit() minus the closing evaluations
            e_ours.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            gensim_call(hf_tokens(texts), workers)
            e_direct.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            gensim_call([simple_preprocess(t) for t in texts], workers)
            e_simple.append(time.perf_counter() - t0)
        a, b = statistics.median(t_ours), statistics.median(t_direct)
        c, d = statistics.median(e_ours), statistics.median(e_direct)
        rows.append((workers, words / a, words / b, b / a, words / c, words / d, d / c,
                     words / statistics.median(e_simple)))
        print(f"workers {workers}: training {words / a:,.0f} vs {words / b:,.0f} words/s (ratio {b / a:.3f}); "
              f"end to end ratio {d / c:.3f}", flush=True)

    lines = [
        "# Word2Vec training speed: nlpzoo vs gensim called directly",
        "",
        f"Command: `python benchmarks/word2vec_speed.py --epochs {args.epochs} --repeats {args.repeats} "
        f"--workers {' '.join(map(str, args.workers))}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, gensim {gensim.__version__}.",
        "",
        f"Corpus: wiki-extract training split ({len(texts)} articles, {words:,} tokens). Skip-gram, 100 dimensions, "
        f"window 5, min_count 5, 5 negative samples, {args.epochs} epochs. Words per second of corpus (x epochs not "
        f"counted), median of {args.repeats} interleaved repeats; ratio = nlpzoo / direct throughput.",
        "",
        "| workers | nlpzoo training words/s | gensim words/s | ratio | nlpzoo end-to-end words/s | tokenizers + gensim words/s | ratio | gensim + simple_preprocess words/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {w} | {a:,.0f} | {b:,.0f} | {r:.3f} | {c:,.0f} | {d:,.0f} | {r2:.3f} | {e:,.0f} |" for w, a, b, r, c, d, r2, e in rows],
        "",
        "End to end, both sides train a Hugging Face word-level tokenizer on the corpus, tokenize it once and train "
        "gensim. The last column swaps in gensim's `simple_preprocess` (a cheaper regex tokenizer that keeps no "
        "punctuation, so a slightly different vocabulary), for reference.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
