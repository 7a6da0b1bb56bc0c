"""A language model trains on a corpus larger than the memory it is allowed: the corpus streams from disk.

With ``stream: true`` the texts are read as they are used, their token ids go to a file, and training
reads that file a window at a time (``nlpzoo.training.TokenFile``), so memory does not grow with the
corpus; the same recipe with the corpus in memory needs memory in proportion to it.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]

# Runs nlpzoo train under an address-space limit (0: none); prints the exit code and the peak address space.
LIMITED = """
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from nlpzoo.cli import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code or 0
except MemoryError:
    code = 99
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmPeak:")) * 1024
print(f"RESULT {code} {peak}", flush=True)
"""


def write_corpus(path: Path, megabytes: int) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    block = "".join(" ".join(rng.choice(words) for _ in range(60)) + "\n" for _ in range(400))
    with open(path, "w") as fh:
        for _ in range(megabytes * 2**20 // len(block)):
            fh.write(block)


def train(corpus: Path, run_dir: Path, stream: bool, limit: int = 0) -> tuple[int, int]:
    args = ["train", str(ROOT / "recipes" / "lstm-lm-wiki.yaml"), "--data", str(corpus), "--run-dir", str(run_dir),
            "--set", "model.embedder=null", "--set", "train.max_steps=4", "--set", "train.epochs=1",
            "--set", "train.progress=false", "--set", "train.plots=false", "--set", f"dataset.stream={str(stream).lower()}"]
    done = subprocess.run([sys.executable, "-c", LIMITED, str(limit), *args], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not result:  # killed outright (the allocator aborts instead of raising): it did not fit
        return -1, 0
    code, peak = map(int, result[0].split()[1:])
    return code, peak


@pytest.mark.slow
def test_a_language_model_trains_on_a_corpus_larger_than_the_memory_it_may_use(tmp_path):
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    write_corpus(small, 2)
    write_corpus(large, 24)
    code, baseline = train(small, tmp_path / "baseline", stream=True)
    assert code == 0
    headroom = 96 << 20  # the process may use this much more address space than a small streamed run
    limit = baseline + headroom
    # in memory, the large corpus's token ids alone need several times the headroom: it does not fit
    assert train(large, tmp_path / "in-memory", stream=False, limit=limit)[0] != 0
    code, peak = train(large, tmp_path / "streamed", stream=True, limit=limit)
    assert code == 0, "the streamed corpus trains within the limit"
    metrics = json.loads((tmp_path / "streamed" / "metrics.json").read_text())
    assert metrics["test_perplexity"] > 1
    assert abs(peak - baseline) < headroom  # twelve times the corpus, about the same peak
