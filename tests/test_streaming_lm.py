"""A language model trains on a corpus without holding it in memory: the corpus streams from disk.

With ``stream: true`` the texts are read as they are used, their token ids go to a file, and training
reads that file a window at a time (``nlpzoo_training.TokenFile``), so peak memory does not grow with the
corpus; the same recipe with the corpus in memory needs memory in proportion to it.

Memory is measured as each run's peak resident size, not enforced with an address-space limit: under
such a limit, native thread pools (the tokenizers' among them) can fail to start a worker and wait for it
forever instead of raising, which makes a limit a test of the allocator rather than of nlpzoo.
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

# Runs nlpzoo train; prints the exit code and the process's peak resident size in bytes. VmHWM, not getrusage's
# ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of a large pytest process reports the parent's.
MEASURED = """
import sys
from nlpzoo.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024
print(f"RESULT {code} {peak}", flush=True)
"""


def write_corpus(path: Path, megabytes: int) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    block = "".join(" ".join(rng.choice(words) for _ in range(60)) + "\n" for _ in range(400))
    with open(path, "w") as fh:
        for _ in range(megabytes * 2**20 // len(block)):
            fh.write(block)


def train(corpus: Path, run_dir: Path, stream: bool) -> tuple[int, int]:
    args = ["train", str(ROOT / "recipes" / "lstm-lm-wiki.yaml"), "--data", str(corpus), "--run-dir", str(run_dir),
            "--set", "model.embedder=null", "--set", "train.max_steps=4", "--set", "train.epochs=1",
            "--set", "train.progress=false", "--set", "train.plots=false", "--set", f"dataset.stream={str(stream).lower()}"]
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"})
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert result, done.stderr[-3000:]
    code, peak = map(int, result[0].split()[1:])
    return code, peak


@pytest.mark.slow
def test_a_streamed_corpus_trains_in_the_memory_of_a_corpus_twelve_times_smaller(tmp_path):
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    write_corpus(small, 2)
    write_corpus(large, 24)
    code, baseline = train(small, tmp_path / "baseline", stream=True)
    assert code == 0
    code, streamed = train(large, tmp_path / "streamed", stream=True)
    assert code == 0
    assert json.loads((tmp_path / "streamed" / "metrics.json").read_text())["test_perplexity"] > 1
    code, in_memory = train(large, tmp_path / "in-memory", stream=False)
    assert code == 0
    # held in memory, the texts and their ids cost several times the file (445 MB more than the small corpus's run
    # for a 25 MB file, measured); streamed, twelve times the corpus costs a small fraction of that (33 MB)
    assert in_memory - baseline > 4 * large.stat().st_size, (baseline, in_memory)
    assert streamed - baseline < (in_memory - baseline) / 5, (baseline, streamed, in_memory)


@pytest.mark.slow
def test_two_processes_stream_uneven_shards_of_a_file_and_step_together(tmp_path):
    """Each process reads its own shard of the lines; shards differ in length, so each would make a
    different number of batches. Both take as many as the smallest share: no process waits forever."""
    lines = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(3 + (i % 5) * 9)) for i in range(120)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    (tmp_path / "recipe.yaml").write_text(
        "seed: 0\ndataset: hamlet\n"
        "model: {name: lstm-lm, embedding_dim: 16, hidden_size: 16, num_layers: 1, vocab_size: 60, bptt: 8}\n"
        "train: {epochs: 1, batch_size: 2, log_every: 1, progress: false, plots: false}\n")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "nlpzoo.cli", "train", str(tmp_path / "recipe.yaml"), "--data", str(corpus),
                           "--set", "dataset.stream=true", "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if "train_loss" in line]
    assert steps and steps == list(range(1, len(steps) + 1))  # one record per step taken by both together
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_perplexity"] > 1
