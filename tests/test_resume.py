"""``nlpzoo train`` end to end: run directories, determinism, and resuming a run killed with SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import nlpzoo

pytestmark = [pytest.mark.skipif("lstm-classifier" not in nlpzoo.components(),
                                 reason="needs the lstm plugin's lstm-classifier"),
              pytest.mark.slow]  # kill and resume: whole trainings

RECIPE = """\
seed: 3
dataset: {name: polarity-200, seed: 0}
model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16, max_length: 24, dropout: 0.2}
optimizer: {name: adamw, lr: 5.0e-3}
scheduler: {name: cosine-warmup, warmup: 0.1}
callbacks: [{name: kill-at-step}]
train: {epochs: 3, batch_size: 16, metric: accuracy, checkpoint_every: 4, log_every: 2}
"""

# A plugin the subprocess registers before running the real CLI: its callback SIGKILLs its own
# process at the step named by NLPZOO_TEST_KILL_AT, mid-epoch, with no chance to clean up.
KILLER = '''
import os, signal
import nlpzoo
from nlpzoo.kinds import Callback


class KillAtStep(Callback):
    def on_step(self, run, step, logs):
        if str(step) == os.environ.get("NLPZOO_TEST_KILL_AT"):
            os.kill(os.getpid(), signal.SIGKILL)

    def on_end(self, run, metrics):  # the last checkpoint is written; the test scores and the model are not
        if os.environ.get("NLPZOO_TEST_KILL_AT") == "end":
            os.kill(os.getpid(), signal.SIGKILL)


@nlpzoo.hookimpl
def register_components(register):
    register("callback", "kill-at-step", target="killer:KillAtStep", summary="Test helper.")
'''

LAUNCH = ("import sys, killer; from nlpzoo.plugins import get_manager; get_manager().add_plugin(killer, 'killer'); "
          "from nlpzoo.cli import main; main(sys.argv[1:])")


@pytest.fixture(scope="module")
def workdir(module_folder):
    path = module_folder("resume")
    (path / "killer.py").write_text(KILLER)
    (path / "recipe.yaml").write_text(RECIPE)
    return path


@pytest.fixture(scope="module")
def whole(workdir):
    """One uninterrupted run, shared by the tests that compare against it."""
    done = train(workdir, workdir / "whole")
    assert done.returncode == 0, done.stderr
    return done


def train(workdir, run_dir, *extra, kill_at=None, recipe=None):
    """``nlpzoo train`` in a process that loads ``killer.py`` from ``workdir``; it SIGKILLs itself at ``kill_at``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")])}
    env.pop("NLPZOO_TEST_KILL_AT", None)
    if kill_at is not None:
        env["NLPZOO_TEST_KILL_AT"] = str(kill_at)
    recipe = recipe or workdir / "recipe.yaml"
    return subprocess.run([sys.executable, "-c", LAUNCH, "train", str(recipe), "--run-dir", str(run_dir), *extra],
                          capture_output=True, text=True, env=env, timeout=600)


def final_metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_a_run_killed_mid_epoch_resumes_to_the_same_final_metrics(workdir, whole):
    # 160 training sentences / 16 = 10 steps an epoch; checkpoints every 4 steps and at each epoch end
    killed = train(workdir, workdir / "cut", kill_at=15)
    assert killed.returncode == -signal.SIGKILL
    pointer = json.loads((workdir / "cut" / "checkpoints" / "latest.json").read_text())
    assert pointer["step"] == 12 and not (workdir / "cut" / "metrics.json").exists()

    resumed = train(workdir, workdir / "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert final_metrics(workdir / "cut") == final_metrics(workdir / "whole")
    assert {k for k in final_metrics(workdir / "whole")} >= {"val_accuracy", "test_accuracy", "test_loss"}
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k != "examples_per_s"}  # noqa: E731
                          for line in path.read_text().splitlines()]
    assert strip(workdir / "cut" / "metrics.jsonl") == strip(workdir / "whole" / "metrics.jsonl")
    assert resumed.stdout.splitlines()[-6:] == whole.stdout.splitlines()[-6:]  # the printed metrics


def test_a_run_killed_after_its_last_checkpoint_resumes_to_its_test_scores_and_model(workdir, whole):
    killed = train(workdir, workdir / "late", kill_at="end")
    assert killed.returncode == -signal.SIGKILL
    assert json.loads((workdir / "late" / "checkpoints" / "latest.json").read_text())["step"] == 30
    assert not (workdir / "late" / "model").exists()
    assert json.loads((workdir / "late" / "run.json").read_text())["status"] == "running"
    resumed = train(workdir, workdir / "late", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert final_metrics(workdir / "late") == final_metrics(workdir / "whole")
    assert (workdir / "late" / "model" / "component.json").exists()
    assert json.loads((workdir / "late" / "run.json").read_text())["status"] == "finished"


def test_a_resumed_run_does_not_log_its_embedders_records_twice(workdir, tmp_path):
    recipe = tmp_path / "embedder.yaml"
    recipe.write_text(RECIPE.replace("max_length: 24,", "max_length: 24, embedder: {name: word2vec, vector_size: 16, "
                                     "min_count: 1, epochs: 2},"))
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")]),
           "NLPZOO_TEST_KILL_AT": "15"}
    for extra in ((), ("--resume",)):
        subprocess.run([sys.executable, "-c", LAUNCH, "train", str(recipe), "--run-dir", str(run), *extra],
                       capture_output=True, text=True, env=env if not extra else {**env, "NLPZOO_TEST_KILL_AT": ""},
                       timeout=300)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if "words_per_sec" in r] == [1.0, 2.0]  # the embedder's two epochs, once
    steps = [r["step"] for r in rows if "train_loss" in r or "val_loss" in r]
    assert steps == sorted(steps) and len([r for r in rows if "train_loss" in r]) == 15  # the loop's, once, in order
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_same_recipe_and_seed_same_metrics_and_a_complete_run_directory(workdir, whole):
    again = train(workdir, workdir / "again")
    assert again.returncode == 0, again.stderr
    assert final_metrics(workdir / "again") == final_metrics(workdir / "whole")
    run = workdir / "again"
    for name in ("recipe.yaml", "run.json", "provenance.json", "metrics.jsonl", "metrics.json", "plots/loss.png",
                 "plots/lr.png", "checkpoints/latest.json", "model"):
        assert (run / name).exists(), name
    prov = json.loads((run / "provenance.json").read_text())
    assert prov["seeds"]["recipe"] == 3 and prov["libraries"]["torch"].startswith("2.")
    assert prov["plugins"]["lstm"]["status"] == "ok" and prov["nlpzoo"]
    [data] = prov["data"]
    assert data["path"].endswith("pang_lee_polarity.cor") and len(data["sha256"]) == 64
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["model"]["name"] == "lstm-classifier"
    import yaml

    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["model"]["name"] == "lstm:lstm-classifier" and saved["dataset"]["name"] == "datasets:polarity-200"

    from nlpzoo.runs import open_run

    handle = open_run(run)
    assert handle.metrics == final_metrics(run) and handle.recipe["seed"] == 3
    test = handle.evaluate("test")
    assert test["accuracy"] == pytest.approx(handle.metrics["test_accuracy"])
    assert len(handle.model.predict(["a fine film"])) == 1


def test_run_directories_are_not_overwritten_and_resume_needs_a_run(workdir):
    first = train(workdir, workdir / "r", "--set", "train.max_steps=2", "--set", "train.plots=false")
    assert first.returncode == 0, first.stderr
    again = train(workdir, workdir / "r")
    assert again.returncode == 1 and "already holds a run" in again.stderr and "--resume" in again.stderr
    nothing = train(workdir, workdir / "empty", "--resume")
    assert nothing.returncode == 1 and "holds no run to resume" in nothing.stderr
    changed = train(workdir, workdir / "r", "--resume", "--set", "seed=4")
    assert changed.returncode == 1 and "differs from the one" in changed.stderr and "seed" in changed.stderr
    # resuming a finished run with more steps allowed continues it
    more = train(workdir, workdir / "r", "--resume", "--set", "train.max_steps=4", "--set", "train.plots=false")
    assert more.returncode == 0, more.stderr
    assert json.loads((workdir / "r" / "checkpoints" / "latest.json").read_text())["step"] == 4


def test_open_run_explains_what_is_missing(tmp_path):
    from nlpzoo.errors import ConfigError
    from nlpzoo.runs import open_run

    with pytest.raises(ConfigError, match="does not exist; make one with: nlpzoo train RECIPE"):
        open_run(tmp_path / "nope")
    with pytest.raises(ConfigError, match="is not a run directory"):
        open_run(tmp_path)

