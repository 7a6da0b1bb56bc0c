"""SeqGAN under torchrun: two processes (DDP, gloo on CPU) go through all three phases and agree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # torchrun: several processes each

RECIPE = """\
seed: 0
dataset: polarity-200
model:
  name: seqgan
  generator: {name: transformer-lm, d_model: 16, num_layers: 1, num_heads: 2, block_size: 24, min_frequency: 1}
  pretrain: {epochs: 1, batch_size: 8}
  discriminator: {name: cnn-classifier, embedding_dim: 8, num_filters: 4, filter_sizes: [2, 3]}
  discriminator_steps: 2
  conditional: true
  max_length: 12
  rollouts: 2
  mle_weight: 0.1
  eval_samples: 10
train: {epochs: 1, max_steps: 3, batch_size: 8, log_every: 1, keep_best: false, plots: false}
"""


def test_two_processes_train_seqgan_and_agree(tmp_path):
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "nlpzoo.cli", "train", str(tmp_path / "recipe.yaml"), "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = Counter(line for line in done.stdout.splitlines() if line.startswith(("val_", "test_")))
    assert printed and set(printed.values()) == {2}  # each rank printed the same metrics
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train_generator_loss" in r] == [1, 2, 3]  # one writer: no record twice
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    assert (tmp_path / "run" / "model" / "generator").is_dir()
