"""Corpora larger than memory: streamed splits, one shard per process, flat memory as the corpus grows."""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

import nlpzoo
from peak_memory import PEAK_BYTES

ROOT = Path(__file__).resolve().parents[1]


def build(spec):
    return nlpzoo.build(spec, "dataset")


def corpus(path: Path, n: int = 2000) -> list[str]:
    lines = [f"line {i}: " + " ".join(random.Random(i).choice("abcdefgh") * 3 for _ in range(i % 17 + 1)) for i in range(n)]
    text = "".join(f"{line}\n" if i % 50 else f"{line}\n\n" for i, line in enumerate(lines))  # blank lines are skipped
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return lines


def texts(split) -> list[str]:
    return [ex["text"] for ex in split]


def test_streamed_splits_are_reiterable_not_sequences_and_partition_the_corpus(tmp_path):
    lines = corpus(tmp_path / "c.txt")
    dataset = build({"name": "text-file", "path": str(tmp_path / "c.txt"), "stream": True})
    splits = dataset.load()
    assert all(not isinstance(split, Sequence) for split in splits.values())  # how a model tells a stream
    train = texts(splits["train"])
    assert train == texts(splits["train"])  # a second pass reads the same examples again
    parts = {name: texts(split) for name, split in splits.items()}
    assert sorted(sum(parts.values(), [])) == sorted(lines)
    assert 160 <= len(parts["test"]) <= 240 and 160 <= len(parts["validation"]) <= 240  # 10% each, in expectation
    assert dataset.describe()["split"] == {"method": "hash of (seed, file, position)", "seed": 0,
                                           "validation": 0.1, "test": 0.1}
    assert texts(build({"name": "text-file", "path": str(tmp_path / "c.txt"), "stream": True, "seed": 1})
                 .load()["test"]) != parts["test"]


def write(kind: str, folder: Path) -> tuple[dict, list[str]]:
    if kind in ("text", "gzip"):
        path = folder / ("c.txt.gz" if kind == "gzip" else "c.txt")
        return {"name": "text-file", "path": str(path)}, corpus(path)
    lines = corpus(folder / "c.txt", 600)
    if kind == "jsonl":
        (folder / "c.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
        return {"name": "jsonl", "path": str(folder / "c.jsonl"), "label_column": None}, lines
    if kind == "csv":
        (folder / "c.csv").write_text("text\n" + "".join(f'"{t}"\n' for t in lines))
        return {"name": "csv", "path": str(folder / "c.csv"), "label_column": None}, lines
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": lines}), folder / "c.parquet", row_group_size=50)
        return {"name": "parquet", "path": str(folder / "c.parquet"), "label_column": None}, lines
    docs = folder / "docs"
    docs.mkdir()
    for i, t in enumerate(lines[:120]):
        (docs / f"{i:03d}.txt").write_text(t)
    return {"name": "text-file", "path": str(docs), "mode": "file"}, lines[:120]


@pytest.mark.parametrize("kind", ["text", "gzip", "jsonl", "csv", "parquet", "files"])
def test_the_shards_of_all_processes_together_are_the_split_whatever_the_number_of_processes(kind, tmp_path):
    spec, lines = write(kind, tmp_path)
    splits = build({**spec, "stream": True}).load()
    for name, split in splits.items():
        whole = Counter(texts(split))
        for world_size in (2, 3, 4):
            shards = [texts(split.shard(rank, world_size)) for rank in range(world_size)]
            assert sum(map(Counter, shards), Counter()) == whole, (name, world_size)
            assert max(map(len, shards)) - min(map(len, shards)) <= max(8, len(whole) // 5)  # shares roughly equal
    assert sorted(sum((texts(s) for s in splits.values()), [])) == sorted(lines)


def test_a_process_reads_only_its_byte_range_of_a_plain_file(tmp_path):
    path = tmp_path / "c.txt"
    lines = ["short line number %d" % i for i in range(420)]
    path.write_text("\n".join(lines[:400]) + "\n" + "x" * 5000 + "\n" + "\n".join(lines[400:]) + "\n")
    split = build({"name": "text-file", "path": str(path), "stream": True, "validation": 0, "test": 0,
                   "max_record_bytes": 4096}).load()["train"]
    assert texts(split.shard(0, 2)) == lines[:len(texts(split.shard(0, 2)))]  # never reached the long line
    with pytest.raises(nlpzoo.ConfigError, match=r"c\.txt:401: a line longer than max_record_bytes"):
        texts(split.shard(1, 2))  # the line number is counted even though this process started mid-file
    with pytest.raises(ValueError, match="already shard 0 of 2"):
        split.shard(0, 2).shard(0, 2)
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1, got 2"):
        split.shard(2, 2)


def test_evaluation_files_stream_whole_and_sampling_needs_memory(tmp_path):
    corpus(tmp_path / "c.txt")
    (tmp_path / "dev.txt").write_text("held out one\nheld out two\n")
    splits = build({"name": "text-file", "path": str(tmp_path / "c.txt"), "validation_path": str(tmp_path / "dev.txt"),
                    "stream": True}).load()
    assert texts(splits["validation"]) == ["held out one", "held out two"]
    assert sum(1 for _ in splits["train"]) > 1500
    with pytest.raises(nlpzoo.ConfigError, match="^limit: limit and train_limit sample from all the examples in memory"):
        build({"name": "jsonl", "path": "c.jsonl", "stream": True, "limit": 10})


# ---------------------------------------------------------------- memory


READ = """
import resource, sys
import nlpzoo
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
dataset = nlpzoo.build({"name": "text-file", "path": sys.argv[1], "stream": sys.argv[2] == "stream"}, "dataset")
try:
    splits = dataset.load()
    counts = [sum(len(ex["text"]) for ex in splits[name]) for name in ("train", "validation", "test")]
except MemoryError:
    print("MemoryError")
else:
    print(sum(counts), PEAK)
""".replace("PEAK", PEAK_BYTES)
BASELINE = f"import nlpzoo, nlpzoo_datasets.readers; print({PEAK_BYTES})"


def write_corpus(path: Path, size: int) -> int:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    block = "".join(" ".join(rng.choice(words) for _ in range(300)) + "\n" for _ in range(200)).encode()
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
    return path.stat().st_size


def run_reader(*args) -> str:
    done = subprocess.run([sys.executable, "-c", READ, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.slow
def test_a_streamed_corpus_four_times_the_memory_limit_is_read_with_flat_peak_memory(tmp_path):
    baseline = int(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True).stdout)
    assert baseline < 512 << 20, "importing nlpzoo alone should take far less; the corpora below are sized from it"
    limit = max(64 << 20, 2 * baseline)  # the process may use this much address space, libraries included
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small_size, large_size = write_corpus(small, limit), write_corpus(large, 4 * limit)
    assert large_size > 3.9 * limit
    assert run_reader(large, "memory", limit) == "MemoryError"  # held in memory, the corpus does not fit
    small_chars, small_peak = map(int, run_reader(small, "stream", limit).split())
    large_chars, large_peak = map(int, run_reader(large, "stream", limit).split())
    assert large_chars > 3.9 * small_chars and large_chars > 0.99 * large_size - large_size // 300  # every line read
    assert large_peak - small_peak < 4 << 20  # four times the corpus, the same peak
    print(f"limit {limit >> 20} MiB; corpus {small_size >> 20} MiB: peak {small_peak / 2**20:.1f} MiB; "
          f"{large_size >> 20} MiB: peak {large_peak / 2**20:.1f} MiB")


#: runs nlpzoo; prints its exit code and its own peak resident memory
PEAK = f"""
import sys
from nlpzoo.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
print(code, {PEAK_BYTES}, flush=True)
"""


@pytest.mark.slow
def test_word2vec_trains_on_a_streamed_corpus_with_flat_peak_memory(tmp_path):
    lee = nlpzoo.build("lee", "dataset").load()
    words = sorted({w for ex in lee["train"] for w in ex["text"].lower().split() if w.isalpha()})
    rng = random.Random(0)
    block = "".join(" ".join(rng.choice(words) for _ in range(200)) + "\n" for _ in range(200))
    peaks, runs = {}, {}
    for size in (2, 8):
        path = tmp_path / f"corpus{size}.txt"
        path.write_text(block * (size * 2**20 // len(block)))
        runs[size] = tmp_path / f"run{size}"
        command = ["train", str(ROOT / "recipes" / "word2vec-wiki.yaml"),
                   "--data", str(path), "--run-dir", str(runs[size]), "--set", "dataset.stream=true",
                   "--set", "model.epochs=1", "--set", "model.vector_size=16", "--set", "model.min_count=1"]
        done = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, timeout=900)
        code, peak = map(int, done.stdout.split()[-2:])
        assert code == 0, done.stderr
        peaks[size] = peak
    metrics = json.loads((runs[8] / "metrics.json").read_text())
    assert 0.99 * len(words) < metrics["vocab_size"] <= len(words) and 0 <= metrics["test_oov_rate"] < 0.01
    provenance = json.loads((runs[8] / "provenance.json").read_text())
    assert provenance["dataset"]["stream"] is True
    # Held in memory, the token lists alone grow by about 12 bytes per byte of text (70+ MiB here).
    assert peaks[8] - peaks[2] < 24 << 20, {k: v >> 20 for k, v in peaks.items()}


@pytest.mark.slow
def test_the_lstm_language_model_trains_on_a_streamed_text_file(tmp_path, cli):
    lee = nlpzoo.build("lee", "dataset").load()
    corpus = tmp_path / "news.txt"
    corpus.write_text("".join(ex["text"] + "\n" for split in lee.values() for ex in split))
    run = tmp_path / "run"
    done = cli("train", str(ROOT / "recipes" / "lstm-lm-wiki.yaml"), "--data", str(corpus), "--run-dir", str(run),
               "--set", "dataset.stream=true", "--set", "model.embedder=null", "--set", "train.max_steps=3",
               "--set", "train.progress=false", "--set", "model.vocab_size=2000")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_tokens"] > 2000 and metrics["test_perplexity"] > 1
    assert json.loads((run / "provenance.json").read_text())["dataset"]["stream"] is True
