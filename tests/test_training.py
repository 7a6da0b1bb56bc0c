"""The shared training loop on tiny tasks: what it writes, what it guarantees, how it fails."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch

from nlpzoo.errors import ConfigError
from nlpzoo.kinds import Augmenter, Callback
from nlpzoo_training import TrainConfig
from nlpzoo_training.checkpoint import join_tensors, split_tensors
from nlpzoo_training.run import Run, derive_seed
from nlpzoo_training.runner import augment_examples
from nlpzoo_training.loop import TrainingError, lower_is_better
from training_tasks import Exploding, Flat, Linear, TwoStage, weights

QUICK = {"epochs": 2, "batch_size": 8, "log_every": 3, "progress": False, "plots": False}


def records(run_dir, key=None):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if key is None or key in r]


class Recorder(Callback):
    def __init__(self, stop_at: int | None = None, crash_at: int | None = None):
        self.steps, self.evals, self.ends = [], [], []
        self.stop_at, self.crash_at = stop_at, crash_at

    def on_step(self, run, step, logs):
        self.steps.append((step, logs))
        if step == self.stop_at:
            run.request_stop()
        if step == self.crash_at:
            raise KeyboardInterrupt("simulated crash")

    def on_evaluate(self, run, step, metrics):
        self.evals.append((step, metrics))

    def on_end(self, run, metrics):
        self.ends.append(metrics)


def test_fit_trains_writes_the_run_and_keeps_the_best_weights(tmp_path):
    task = Linear()
    run = Run.standalone(tmp_path, seed=0, train={**QUICK, "epochs": 4, "plots": True, "metric": "accuracy"},
                         optimizer={"name": "adamw", "lr": 0.05})
    before = task.evaluate("validation")
    final = run.fit(task)
    assert set(final) == {"val_loss", "val_accuracy"}
    assert final["val_accuracy"] > before["accuracy"] and final["val_accuracy"] >= 0.8
    evals = records(tmp_path, "val_accuracy")
    assert [r["step"] for r in evals] == [12, 24, 36, 48]  # once per epoch: 96 examples / 8
    assert final["val_accuracy"] == max(r["val_accuracy"] for r in evals)
    assert task.evaluate("validation")["accuracy"] == final["val_accuracy"]  # the nets hold the best weights
    train = records(tmp_path, "train_loss")
    assert [r["step"] for r in train] == list(range(3, 49, 3))
    assert all(r["lr"] == 0.05 and r["examples_per_s"] > 0 and "train_norm" in r for r in train)
    assert (tmp_path / "plots" / "loss.png").stat().st_size > 1000 and (tmp_path / "plots" / "lr.png").exists()
    files = [p for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()]
    assert files and {p.suffix for p in files} <= {".json", ".safetensors"}  # never pickle
    assert task.epochs_started == [0, 1, 2, 3]


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path):
    def go(name, seed):
        run = Run.standalone(tmp_path / name, seed=seed, train=QUICK)
        final = run.fit(Linear(dropout=0.2))
        trace = [{k: v for k, v in r.items() if k != "examples_per_s"} for r in records(tmp_path / name)]
        return final, trace

    a, b, c = go("a", 3), go("b", 3), go("c", 4)
    assert a == b
    assert a[1] != c[1]


def test_deterministic_runs_skip_filling_new_tensors_with_nan(tmp_path):
    """Deterministic algorithms, but no NaN written into every new tensor: only reads of uninitialized
    memory need that fill, and it slows a BERT step by a few percent."""
    torch.use_deterministic_algorithms(False)
    torch.utils.deterministic.fill_uninitialized_memory = True
    Run.standalone(tmp_path, train={**QUICK, "epochs": 1}).fit(Linear())
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.utils.deterministic.fill_uninitialized_memory


def test_gradient_accumulation_matches_a_bigger_batch(tmp_path):
    common = {**QUICK, "epochs": 1, "clip_grad_norm": None, "deterministic": True}
    torch.manual_seed(0)
    big = Linear(batch_size=16)
    torch.manual_seed(0)
    small = Linear(batch_size=8)
    small.train_batches = lambda epoch: [b for big_b in Linear.train_batches(small, epoch) for b in
                                         ((big_b[0][:8], big_b[1][:8]), (big_b[0][8:], big_b[1][8:]))]
    small.bs = 16
    Run.standalone(tmp_path / "big", train=common, optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.0}).fit(big)
    Run.standalone(tmp_path / "acc", train={**common, "grad_accum": 2},
                   optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.0}).fit(small)
    for k, v in weights(big).items():
        torch.testing.assert_close(weights(small)[k], v, rtol=1e-5, atol=1e-6)
    assert [r["step"] for r in records(tmp_path / "acc", "val_loss")] == [6]  # 12 micro-batches, 2 per step


def test_gradient_clipping_bounds_each_update(tmp_path):
    task = Linear()
    seen = []

    class Watch(Callback):
        def on_step(self, run, step, logs):
            seen.append(torch.cat([p.detach().flatten() for p in task.nets["model"].parameters()]))

    run = Run.standalone(tmp_path, train={**QUICK, "epochs": 1, "clip_grad_norm": 1e-3},
                         optimizer={"name": "sgd", "lr": 1.0, "momentum": 0.0}, callbacks=[Watch()])
    run.fit(task)
    steps = [float((b - a).norm()) for a, b in zip(seen, seen[1:])]
    assert steps and max(steps) <= 1e-3 * (1 + 1e-4)


def test_eval_every_max_steps_and_scheduler_by_name(tmp_path):
    run = Run.standalone(tmp_path, train={**QUICK, "epochs": 5, "eval_every": 4, "max_steps": 18, "log_every": 1},
                         optimizer={"name": "sgd", "lr": 0.1}, scheduler={"name": "linear-warmup", "warmup": 0.0})
    run.fit(Linear())
    assert [r["step"] for r in records(tmp_path, "val_loss")] == [4, 8, 12, 16, 18]
    lrs = [r["lr"] for r in records(tmp_path, "lr")]
    assert len(lrs) == 18 and lrs[0] < 0.1 and lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_metric_driven_scheduler_steps_on_evaluations(tmp_path):
    run = Run.standalone(tmp_path, train={**QUICK, "epochs": 4}, optimizer={"name": "sgd", "lr": 0.1},
                         scheduler={"name": "reduce-on-plateau", "patience": 0, "factor": 0.5})
    run.fit(Flat())
    lrs = [r["lr"] for r in records(tmp_path, "lr")]
    assert lrs[0] == 0.1 and min(lrs) < 0.1  # the flat metric made it cut the rate


def test_early_stopping_on_a_named_metric(tmp_path):
    run = Run.standalone(tmp_path, train={**QUICK, "epochs": 10, "metric": "accuracy", "early_stopping": 2})
    final = run.fit(Flat())
    evals = records(tmp_path, "val_accuracy")
    assert len(evals) == 3 and final == {"val_loss": 1.0, "val_accuracy": 0.5}
    assert records(tmp_path, "early_stop")[0]["step"] == evals[-1]["step"]


def test_callbacks_see_every_step_each_evaluation_and_the_end(tmp_path):
    rec = Recorder()
    run = Run.standalone(tmp_path, train=QUICK, callbacks=[rec])
    final = run.fit(Linear())
    assert [s for s, _ in rec.steps] == list(range(1, 25))
    assert all(set(logs) == {"loss", "lr"} for _, logs in rec.steps)
    assert [s for s, _ in rec.evals] == [12, 24] and rec.ends == [final]


def test_a_callback_can_stop_the_run(tmp_path):
    run = Run.standalone(tmp_path, train={**QUICK, "epochs": 3}, callbacks=[Recorder(stop_at=5)])
    final = run.fit(Linear())
    assert records(tmp_path)[-1]["step"] == 5 and "val_loss" in final  # evaluated before it ended


def test_bf16_autocast_runs_the_forward_in_bfloat16(tmp_path):
    task = Linear()
    final = Run.standalone(tmp_path, train={**QUICK, "precision": "bf16"}).fit(task)
    assert set(task.dtypes) == {torch.bfloat16} and math.isfinite(final["val_loss"])
    assert all(p.dtype == torch.float32 for p in task.nets["model"].parameters())


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_processor_computes_it(native, tmp_path, monkeypatch):
    # emulated bf16 (a CPU without AVX-512 BF16 or AMX) is many times slower than fp32: auto keeps fp32 there
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    task = Linear()
    run = Run.standalone(tmp_path, train={**QUICK, "precision": "auto", "device": "cpu"})
    run.fit(task)
    assert run.config.precision == ("bf16" if native else "fp32")
    assert set(task.dtypes) == {torch.bfloat16 if native else torch.float32}


def test_each_stage_steps_its_own_optimizer(tmp_path):
    import nlpzoo

    task = TwoStage()
    start = weights(task)
    run = Run.standalone(tmp_path, train={**QUICK, "metric": "loss", "log_every": 1})
    sgd = nlpzoo.build({"name": "sgd", "lr": 0.01, "momentum": 0.0}, "optimizer")
    run.fit(task, optimizers={"critic": sgd})
    end = weights(task)
    assert not torch.equal(start["critic.weight"], end["critic.weight"])  # (the critic's bias gets no gradient)
    assert not torch.equal(start["maker.weight"], end["maker.weight"])
    rows = records(tmp_path, "train_critic_loss")
    assert rows and all(r["lr_critic"] == 0.01 and r["lr_maker"] == 1e-3 and "train_maker_loss" in r for r in rows)


def test_resume_after_a_crash_ends_like_an_uninterrupted_run(tmp_path):
    train = {**QUICK, "epochs": 3, "checkpoint_every": 5}
    whole = Run.standalone(tmp_path / "whole", seed=7, train=train).fit(Linear(dropout=0.3))
    with pytest.raises(KeyboardInterrupt):
        Run.standalone(tmp_path / "cut", seed=7, train=train, callbacks=[Recorder(crash_at=17)]).fit(Linear(dropout=0.3))
    assert json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())["step"] == 15
    task = Linear(dropout=0.3)
    resumed = Run.standalone(tmp_path / "cut", seed=7, train=train, resume=True).fit(task)
    assert resumed == whole
    strip = lambda rows: [{k: v for k, v in r.items() if k != "examples_per_s"} for r in rows]  # noqa: E731
    assert strip(records(tmp_path / "cut")) == strip(records(tmp_path / "whole"))
    assert task.epochs_started == [1, 2]  # resumed mid-epoch 1


def test_a_weight_average_is_what_gets_evaluated_and_kept(tmp_path):
    seen = []

    class Average(Callback):  # the same average, by hand, from the weights after each step
        def __init__(self, task):
            self.task, self.avg, self.n = task, None, 0

        def on_step(self, run, step, logs):
            live = weights(self.task)
            self.n += 1
            d = min(0.9, (1 + self.n) / (10 + self.n))
            self.avg = live if self.avg is None else {k: d * a + (1 - d) * live[k] for k, a in self.avg.items()}

        def on_evaluate(self, run, step, metrics):
            seen.append((weights(self.task), {k: v.clone() for k, v in self.avg.items()}))

    task = Linear()
    hand = Average(task)
    train = {**QUICK, "ema": 0.9, "keep_best": False}
    Run.standalone(tmp_path, train=train, callbacks=[hand], optimizer={"name": "sgd", "lr": 0.5}).fit(task)
    assert len(seen) == 2  # once per epoch
    for evaluated, by_hand in seen:  # inside the evaluation the networks hold the average
        for k, v in by_hand.items():
            torch.testing.assert_close(evaluated[k], v, rtol=1e-5, atol=1e-6)
    for k, v in hand.avg.items():  # and the run ends with it
        torch.testing.assert_close(weights(task)[k], v, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match=r"train\.ema"):
        Run.standalone(tmp_path / "bad", train={**QUICK, "ema": 1.5}).fit(Linear())


def test_resume_keeps_the_weight_average(tmp_path):
    train = {**QUICK, "epochs": 3, "checkpoint_every": 5, "ema": 0.8}
    whole = Run.standalone(tmp_path / "whole", seed=7, train=train).fit(Linear(dropout=0.3))
    with pytest.raises(KeyboardInterrupt):
        Run.standalone(tmp_path / "cut", seed=7, train=train, callbacks=[Recorder(crash_at=17)]).fit(Linear(dropout=0.3))
    resumed = Run.standalone(tmp_path / "cut", seed=7, train=train, resume=True).fit(Linear(dropout=0.3))
    assert resumed == whole
    no_average = Run.standalone(tmp_path / "plain", seed=7, train={**train, "ema": None}).fit(Linear(dropout=0.3))
    assert no_average != whole


def test_resume_ignores_a_half_written_checkpoint(tmp_path):
    train = {**QUICK, "checkpoint_every": 4}
    Run.standalone(tmp_path, train=train, callbacks=[Recorder(stop_at=9)]).fit(Linear())
    root = tmp_path / "checkpoints"
    (root / ".tmp-step-00000012-999").mkdir()
    (root / ".tmp-step-00000012-999" / "state.json").write_text("{not json")
    (root / "step-00000099").mkdir()  # renamed, but never named by latest.json
    final = Run.standalone(tmp_path, train=train, resume=True).fit(Linear())
    assert "val_loss" in final
    assert sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(("step", ".tmp"))) == ["step-00000024"]


def test_resume_without_checkpoints_starts_over(tmp_path, capsys):
    final = Run.standalone(tmp_path, train=QUICK, resume=True).fit(Linear())
    assert "val_loss" in final and "starting from the beginning" in capsys.readouterr().err


def test_a_non_finite_loss_stops_with_one_clear_line(tmp_path):
    with pytest.raises(TrainingError, match=r"train.* is nan at step 3 .*lower the learning rate"):
        Run.standalone(tmp_path, train=QUICK).fit(Exploding())


def test_an_unknown_metric_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.metric: 'acuracy' is not a validation metric.*did you mean 'accuracy'"):
        Run.standalone(tmp_path, train={**QUICK, "metric": "acuracy"}).fit(Linear())


def test_train_settings_are_checked_like_a_recipe(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.batch_sise"):
        Run.standalone(tmp_path, train={"batch_sise": 3})
    assert Run.standalone(tmp_path, train={"epochs": 2.0}).config == TrainConfig(epochs=2)


def test_out_of_range_train_settings_fail_when_the_recipe_loads(tmp_path):
    from nlpzoo import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: lstm-classifier}\ntrain:\n  epochs: 2\n  ema: 1.5\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:4: train\.ema: expected 0 < ema < 1, got 1\.5"):
        load_recipe(recipe)
    with pytest.raises(ConfigError, match=r"--set train\.grad_accum=0: train\.grad_accum: expected grad_accum >= 1, got 0"):
        load_recipe(recipe, ["train.ema=null", "train.grad_accum=0"])


def test_metric_direction():
    assert lower_is_better("loss") and lower_is_better("perplexity") and lower_is_better("fid")
    assert not lower_is_better("accuracy") and not lower_is_better("macro_f1")
    assert lower_is_better("accuracy", "min") and not lower_is_better("loss", "max")
    assert TrainConfig(metric="accuracy").direction == "maximize" and TrainConfig().direction == "minimize"
    assert TrainConfig(metric="accuracy", mode="min").direction == "minimize"  # what nlpzoo sweep optimises


def test_checkpoint_state_round_trips_through_safetensors_and_json():
    state = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.arange(4.0)}},
             "param_groups": [{"betas": (0.9, 0.999), "lr": 1e-3, "params": [0]}],
             "best": float("inf"), "nested": [None, True, "x"]}
    tensors: dict = {}
    tree = split_tensors(state, tensors)
    back = join_tensors(json.loads(json.dumps(tree)), tensors)
    assert back["param_groups"] == state["param_groups"] and back["best"] == math.inf
    assert back["nested"] == state["nested"] and torch.equal(back["state"][0]["exp_avg"], torch.arange(4.0))
    with pytest.raises(TypeError, match="cannot store a object"):
        split_tensors({"x": object()}, {})


def test_checkpoint_tensors_are_written_without_a_copy_and_shared_memory_is_saved_apart(tmp_path):
    from nlpzoo_training.checkpoint import load_tensors, save_tensors

    exp_avg, buffer = torch.arange(4.0), torch.arange(8.0)
    tensors: dict = {}
    split_tensors({"exp_avg": exp_avg, "halves": [buffer[:4], buffer[4:]], "again": buffer}, tensors)
    assert tensors["t0"].data_ptr() == exp_avg.data_ptr()  # the optimizer state is not duplicated in memory
    save_tensors(tensors, tmp_path / "state.safetensors")
    back = load_tensors(tmp_path / "state.safetensors")
    assert torch.equal(back["t0"], exp_avg)
    assert torch.equal(back["t1"], buffer[:4]) and torch.equal(back["t2"], buffer[4:]) and torch.equal(back["t3"], buffer)


class Upper(Augmenter):
    def augment_one(self, text, rng):
        return (text.upper() if rng.random() < 0.5 else text + "!"), ["op"]


def test_online_augmentation_is_seeded_by_run_and_epoch(tmp_path):
    texts = [f"text {i}" for i in range(20)]
    run = Run(tmp_path, seed=1, augmenter=Upper())
    assert run.augment_texts(texts, 0) == run.augment_texts(texts, 0) != texts
    assert run.augment_texts(texts, 0) != run.augment_texts(texts, 1)
    assert Run(tmp_path, seed=1).augment_texts(texts, 0) == texts
    assert Run(tmp_path, seed=1, augmenter=Upper(), config={"augment_mode": "offline"}).augment_texts(texts, 0) == texts
    assert derive_seed(1, "augment", 0) == derive_seed(1, "augment", 0) != derive_seed(2, "augment", 0)


def test_offline_augmentation_expands_the_training_split_once():
    examples = [{"text": f"t{i}", "label": "a"} for i in range(5)]
    out = augment_examples(examples, Upper(), seed=0, copies=2)
    assert out[:5] == examples and len(out) == 15 and all(e["label"] == "a" for e in out)
    assert out == augment_examples(examples, Upper(), seed=0, copies=2)


def test_run_log_for_models_trained_outside_torch(tmp_path):
    run = Run(tmp_path)
    run.log({"loss": 2.5, "words": 10})
    run.log({"loss": torch.tensor(1.5)}, step=7)
    assert records(tmp_path) == [{"step": 1, "loss": 2.5, "words": 10.0}, {"step": 7, "loss": 1.5}]


def test_importing_the_training_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, nlpzoo_training, nlpzoo_training.run, nlpzoo.runs; assert 'torch' not in sys.modules, 'torch'"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_tensorboard_events_when_asked(tmp_path):
    pytest.importorskip("tensorboard")
    Run.standalone(tmp_path, train={**QUICK, "epochs": 1, "tensorboard": True}).fit(Linear())
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


# ---------------------------------------------------------------- whole recipes, in process


class _TestModels:
    import nlpzoo as _nlpzoo

    @_nlpzoo.hookimpl
    def register_components(self, register):
        register("classifier", "tiny-text", target="training_tasks:TinyTextModel", summary="Test model.")


@pytest.fixture
def zoo(nlpzoo_isolated):
    import nlpzoo_augment.plugin
    import nlpzoo_datasets.plugin
    import nlpzoo_optim.plugin

    for name, module in (("datasets", nlpzoo_datasets.plugin), ("optim", nlpzoo_optim.plugin),
                         ("augment", nlpzoo_augment.plugin)):
        nlpzoo_isolated.add_plugin(module, name)
    nlpzoo_isolated.add_plugin(_TestModels(), "testmodels")
    return nlpzoo_isolated


def test_train_recipe_writes_a_run_that_open_run_brings_back(tmp_path, zoo):
    from nlpzoo.recipe import load_recipe
    from nlpzoo.runs import open_run
    from nlpzoo_training import train_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 2\ndataset: {name: polarity-200}\nmodel: {name: tiny-text}\n"
                      "augment: {name: random-swap}\noptimizer: {name: sgd, lr: 0.5}\n"
                      "train: {epochs: 2, augment_mode: offline, augment_copies: 2, metric: accuracy, progress: false}\n")
    metrics = train_recipe(load_recipe(recipe), tmp_path / "run")
    assert set(metrics) == {"val_loss", "val_accuracy", "test_loss", "test_accuracy"}
    handle = open_run(tmp_path / "run")
    assert handle.status == "finished" and handle.metrics == metrics
    assert handle.model.seen_train == 160 * 3  # the training split plus two augmented copies, made once
    assert handle.evaluate("test")["accuracy"] == metrics["test_accuracy"]
    assert handle.recipe["augment"]["name"] == "augment:random-swap"
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert set(prov["plugins"]) == {"datasets", "optim", "augment", "testmodels", "training"}
    assert prov["data"][0]["sha256"] and prov["seeds"]["recipe"] == 2
    steps = [r["step"] for r in records(tmp_path / "run", "val_accuracy")]
    assert steps == [30, 60]  # 480 examples / 16 a batch
    assert train_recipe(load_recipe(recipe), tmp_path / "again") == metrics


def test_weight_decay_comes_from_train_or_the_optimizer_and_spares_biases(tmp_path):
    from nlpzoo_training.loop import Trainer

    def groups(train, optimizer):
        trainer = Trainer(Run.standalone(tmp_path, train={**QUICK, **train}, optimizer=optimizer), Linear())
        return sorted((g["weight_decay"], len(g["params"])) for g in trainer.plan.optimizers["model"].param_groups)

    assert groups({}, {"name": "adamw", "weight_decay": 0.3}) == [(0.0, 2), (0.3, 2)]
    assert groups({"weight_decay": 0.1}, {"name": "adamw", "weight_decay": 0.3}) == [(0.0, 2), (0.1, 2)]
    assert groups({}, {"name": "sgd"}) == [(0.0, 2), (0.0, 2)]


class Carrying(Linear):
    """Keeps state across batches (like hidden states in truncated back-propagation through time)."""

    def __init__(self):
        super().__init__()
        self.memory = torch.zeros(8)

    def on_epoch_start(self, epoch):
        self.memory = torch.zeros(8)

    def training_step(self, batch, stage):
        x, y = batch
        self.memory = 0.5 * self.memory + x.mean(0)
        logits = self.nets["model"](x + self.memory).squeeze(-1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y), {}

    def state_dict(self):
        return {"memory": self.memory}

    def load_state_dict(self, state):
        self.memory = state["memory"]


def test_a_task_with_state_dict_gets_its_state_back_on_resume(tmp_path):
    train = {**QUICK, "epochs": 3, "checkpoint_every": 5}
    whole = Run.standalone(tmp_path / "whole", seed=1, train=train).fit(Carrying())
    for crash in (17, 25):  # mid-epoch (checkpoint at 15) and just after an epoch's end (checkpoint at 24)
        with pytest.raises(KeyboardInterrupt):
            Run.standalone(tmp_path / f"cut{crash}", seed=1, train=train, callbacks=[Recorder(crash_at=crash)]).fit(Carrying())
        assert Run.standalone(tmp_path / f"cut{crash}", seed=1, train=train, resume=True).fit(Carrying()) == whole


def test_the_training_package_exports():
    import nlpzoo_training as training

    assert training.__all__ == sorted(training.__all__)
    assert {"Run", "TorchTask", "TrainConfig", "train_recipe", "classification_metrics"} <= set(training.__all__)
    assert training.Run is Run and callable(training.train_recipe)
    for name in training.__all__:
        assert getattr(training, name) is not None


def test_file_utilities_moved_to_nlpzoo_files_and_the_old_names_warn():
    import nlpzoo.files
    import nlpzoo.training as old
    import nlpzoo_training as training

    for name in ("atomic_write", "sha256_file", "seeded_split", "seeded_sample"):
        assert name in nlpzoo.files.__all__ and name not in training.__all__
        with pytest.warns(DeprecationWarning, match=f"nlpzoo.training.{name} moved to nlpzoo.files"):
            assert getattr(old, name) is getattr(nlpzoo.files, name)


def test_the_engine_moved_to_nlpzoo_training_and_the_old_imports_warn():
    import nlpzoo.tokenization
    import nlpzoo.training as old
    import nlpzoo_training
    import nlpzoo_training.tokenization

    for name in nlpzoo_training.__all__:
        with pytest.warns(DeprecationWarning, match=f"nlpzoo.training.{name} moved to nlpzoo_training;"):
            assert getattr(old, name) is getattr(nlpzoo_training, name)
    with pytest.warns(DeprecationWarning, match="moved to nlpzoo_training.tokenization"):
        from nlpzoo.tokenization import TextTokenizer
    assert TextTokenizer is nlpzoo_training.tokenization.TextTokenizer
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        old.not_a_name


def test_several_augmenters_apply_in_turn(tmp_path):
    class Bang(Augmenter):
        def augment_one(self, text, rng):
            return text + "!", ["bang"]

    run = Run(tmp_path, augmenter=[Bang(), Bang()])
    assert run.augment_texts(["a"], 0) == ["a!!"] and run.augmenter.explain(["a"])[0] == ("a!!", ["bang", "bang"])


def test_without_a_terminal_progress_is_a_line_per_log_step_on_stderr(tmp_path, capsys):
    Run.standalone(tmp_path, train={**QUICK, "epochs": 2, "log_every": 4, "progress": True}).fit(Linear())
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("train: ")]
    assert [line.split(",")[0] for line in lines] == ["train: step 4/24", "train: step 8/24", "train: step 12/24",
                                                      "train: step 16/24", "train: step 20/24", "train: step 24/24"]
    assert re.fullmatch(r"train: step 4/24, epoch 1/2, loss [\d.]+, lr [\d.e-]+, [\d.]+ ex/s, eta \d+:\d\d", lines[0])
    assert any(line.startswith("step 12: val_loss") for line in err.splitlines())  # evaluations too
    assert "train:" not in out  # stdout stays parseable


def test_without_a_terminal_a_quiet_stretch_still_gets_a_line(tmp_path, capsys, monkeypatch):
    from nlpzoo_training import progress

    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)  # every step is "30 s after the last line"
    Run.standalone(tmp_path, train={**QUICK, "epochs": 1, "log_every": 1000, "progress": True}).fit(Linear())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: step")]
    assert len(lines) == 12


def test_the_default_batch_size_counts_examples_in_any_batch_shape():
    task = Linear()
    x = torch.zeros(5, 8)
    assert task.batch_size((x, torch.zeros(5))) == 5
    assert task.batch_size({"ids": x, "mask": x}) == 5
    assert task.batch_size(["a text", "another", "a third"]) == 3  # not tensors: their number
    assert task.batch_size(torch.tensor(1.0)) == 1 and task.batch_size([]) == 0


class MiscountedBatches(Linear):
    def batch_size(self, batch):
        raise ZeroDivisionError("a bug in the plugin's count")


def test_a_bug_in_a_tasks_batch_size_is_not_swallowed(tmp_path):
    with pytest.raises(ZeroDivisionError, match="a bug in the plugin's count"):
        Run.standalone(tmp_path / "run", seed=0, train=QUICK).fit(MiscountedBatches())


def test_one_reader_of_metrics_jsonl_skips_torn_foreign_and_bottomless_lines(tmp_path):
    from nlpzoo.runs import read_run_records

    lines = ['{"step": 1, "loss": 0.5}', "[1, 2]", "[" * 100_000 + "]" * 100_000, '{"step": 2, "lo']
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines))
    assert read_run_records(tmp_path) == [{"step": 1, "loss": 0.5}]
    assert Run.standalone(tmp_path, seed=0, train=QUICK).metrics.read() == [{"step": 1, "loss": 0.5}]  # what resume reads


def test_train_recipe_takes_a_mapping_and_checks_it_as_a_recipe_file(tmp_path):
    from nlpzoo_training import train_recipe

    with pytest.raises(ConfigError, match=r"unknown recipe key \(did you mean 'model'\?\)"):
        train_recipe({"dataset": "polarity-200", "modle": "lstm-classifier"}, tmp_path / "run")
    assert not (tmp_path / "run").exists()


class HidesBatchSize(Linear):
    def __init__(self):
        super().__init__()
        self.batch_size = 8  # a setting named like the method the loop calls


def test_a_task_attribute_that_hides_batch_size_is_named_and_examples_are_still_counted(tmp_path):
    with pytest.warns(UserWarning, match=r"HidesBatchSize.batch_size is 8, which hides TorchTask.batch_size"):
        run = Run.standalone(tmp_path / "run", seed=0, train=QUICK)
        run.fit(HidesBatchSize())
    timing = run.fits[-1].timing
    counted = timing["train_examples_per_s"] * timing["train_seconds"]  # both rounded
    assert abs(counted / (2 * 96) - 1) < 0.1  # two epochs of 96 examples; a tuple's length would give 48
