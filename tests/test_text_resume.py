"""The Transformer LM, the CNN classifier and SeqGAN killed with SIGKILL mid-run resume to the same metrics.

Each model is trained once without interruption and once killed mid-epoch then resumed, in separate
processes from the same recipe and seed, so equal results also show that a seed fixes the numbers.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # kill and resume: whole trainings

KILLER = '''
import os, signal
import nlpzoo


class KillAtStep(nlpzoo.Callback):
    def on_step(self, run, step, logs):
        if str(step) == os.environ.get("NLPZOO_TEST_KILL_AT"):
            os.kill(os.getpid(), signal.SIGKILL)


@nlpzoo.hookimpl
def register_components(register):
    register("callback", "kill-at-step", target="killer:KillAtStep", summary="Test helper.")
'''

LAUNCH = ("import sys, killer; from nlpzoo.plugins import get_manager; get_manager().add_plugin(killer, 'killer'); "
          "from nlpzoo.cli import main; main(sys.argv[1:])")

COMMON = "callbacks: [{name: kill-at-step}]\n"
RECIPES = {
    # 160 sentences, about 3,000 tokens: 12 windows of 16 tokens a batch, 15 steps an epoch
    "transformer-lm": ("seed: 2\ndataset: polarity-200\n"
                       "model: {name: transformer-lm, d_model: 16, num_layers: 1, num_heads: 2, block_size: 16, "
                       "min_frequency: 1, positions: rotary}\n"
                       "train: {epochs: 2, batch_size: 12, metric: perplexity, checkpoint_every: 4, log_every: 2, "
                       "plots: false}\n", 10, 8),
    "cnn-classifier": ("seed: 2\ndataset: polarity-200\n"
                       "model: {name: cnn-classifier, embedding_dim: 16, num_filters: 8, filter_sizes: [2, 3]}\n"
                       "scheduler: {name: cosine-warmup, warmup: 0.1}\n"
                       "train: {epochs: 3, batch_size: 16, metric: accuracy, checkpoint_every: 4, log_every: 2, "
                       "plots: false}\n", 15, 12),
    # killed in the adversarial phase, after both pretraining phases finished
    "seqgan": ("seed: 2\ndataset: polarity-200\n"
               "model: {name: seqgan, conditional: true, max_length: 10, rollouts: 2, eval_samples: 10, "
               "discriminator_steps: 2, pretrain: {epochs: 1, batch_size: 8}, "
               "generator: {name: lstm-lm, embedding_dim: 16, hidden_size: 16, num_layers: 1, bptt: 10, min_frequency: 1}, "
               "discriminator: {name: cnn-classifier, embedding_dim: 8, num_filters: 4, filter_sizes: [2, 3]}}\n"
               "train: {epochs: 1, max_steps: 6, batch_size: 8, checkpoint_every: 2, log_every: 1, keep_best: false, "
               "plots: false}\n", 5, 4),
}


def train(workdir, recipe, run_dir, *extra, kill_at=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    env.pop("NLPZOO_TEST_KILL_AT", None)
    if kill_at is not None:
        env["NLPZOO_TEST_KILL_AT"] = str(kill_at)
    return subprocess.run([sys.executable, "-c", LAUNCH, "train", str(recipe), "--run-dir", str(run_dir), *extra],
                          capture_output=True, text=True, env=env, timeout=600)


def records(run_dir):
    return [{k: v for k, v in json.loads(line).items() if k != "examples_per_s"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", list(RECIPES))
def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics(name, tmp_path):
    body, kill_at, checkpoint = RECIPES[name]
    (tmp_path / "killer.py").write_text(KILLER)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(body + COMMON)
    whole = train(tmp_path, recipe, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]

    killed = train(tmp_path, recipe, tmp_path / "cut", kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    pointer = json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())
    assert pointer["step"] == checkpoint and not (tmp_path / "cut" / "metrics.json").exists()

    resumed = train(tmp_path, recipe, tmp_path / "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text()) == final
    assert records(tmp_path / "cut") == records(tmp_path / "whole")
    assert any(k.startswith("test_") for k in final) and any(k.startswith("val_") for k in final)
