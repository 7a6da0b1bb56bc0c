"""A run that fails says so in its own record, and an error from plugin code names its component, phase and line."""
from __future__ import annotations

import json

import pytest

import nlpzoo

torch = pytest.importorskip("torch")

from nlpzoo.recipe import load_recipe  # noqa: E402
from nlpzoo.runs import open_run  # noqa: E402
from nlpzoo_training import train_recipe  # noqa: E402
from training_tasks import TinyTextModel, _Features  # noqa: E402


class _BreaksAtStep3(_Features):
    def training_step(self, batch, stage):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 3:
            raise TypeError("unsupported operand in my step")
        return super().training_step(batch, stage)


class BreaksAtStep3(TinyTextModel):
    def fit(self, data, run):
        self.labels = sorted({e["label"] for e in data["train"]})
        self.net = torch.nn.Linear(3, len(self.labels))
        return run.fit(_BreaksAtStep3(self, data))


class BreaksWhenBuilt(TinyTextModel):
    def __init__(self, scale: float = 1.0):
        raise RuntimeError("boom in constructor")


class InterruptedAtStep2(TinyTextModel):
    def fit(self, data, run):
        self.labels = sorted({e["label"] for e in data["train"]})
        self.net = torch.nn.Linear(3, len(self.labels))

        class Task(_Features):
            def training_step(self, batch, stage):
                if run.step == 1:
                    raise KeyboardInterrupt
                return super().training_step(batch, stage)

        return run.fit(Task(self, data))


class NanLoss(TinyTextModel):
    def fit(self, data, run):
        self.labels = sorted({e["label"] for e in data["train"]})
        self.net = torch.nn.Linear(3, len(self.labels))

        class Task(_Features):
            def training_step(self, batch, stage):
                loss, logs = super().training_step(batch, stage)
                return loss * float("nan"), logs

        return run.fit(Task(self, data))


class AugmentsEveryEpoch(TinyTextModel):
    def fit(self, data, run):
        run.augment_texts([e["text"] for e in data["train"]], 0)
        return super().fit(data, run)


class KeyErrorAugmenter(nlpzoo.Augmenter):
    def augment_one(self, text, rng):
        return {"a": text}["missing"], []


class _Broken:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("classifier", "sound", target="training_tasks:TinyTextModel", summary="A model that works.")
        for name, cls in (("breaks-at-step-3", "BreaksAtStep3"), ("breaks-when-built", "BreaksWhenBuilt"),
                          ("interrupted-at-step-2", "InterruptedAtStep2"), ("augments", "AugmentsEveryEpoch"),
                          ("nan-loss", "NanLoss")):
            register("classifier", name, target=f"test_failed_runs:{cls}", summary="A model that fails.")
        register("augmenter", "key-error", target="test_failed_runs:KeyErrorAugmenter", summary="Fails.")


@pytest.fixture
def broken(nlpzoo_isolated):
    import nlpzoo_datasets.plugin
    import nlpzoo_optim.plugin

    nlpzoo_isolated.add_plugin(nlpzoo_datasets.plugin, "datasets")
    nlpzoo_isolated.add_plugin(nlpzoo_optim.plugin, "optim")
    nlpzoo_isolated.add_plugin(_Broken(), "broken")
    return nlpzoo_isolated


def train(tmp_path, model: str, extra: str = ""):
    tmp_path.mkdir(parents=True, exist_ok=True)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"dataset: {{name: polarity-200}}\nmodel: {{name: {model}}}\n{extra}"
                      "train: {epochs: 2, metric: accuracy, progress: false, plots: false}\n")
    return train_recipe(load_recipe(recipe), tmp_path / "run")


def recorded(tmp_path) -> dict:
    return json.loads((tmp_path / "run" / "run.json").read_text())


def test_a_bug_in_training_step_fails_the_run_and_names_model_step_and_line(tmp_path, broken):
    with pytest.raises(TypeError) as caught:
        train(tmp_path, "breaks-at-step-3")
    where = nlpzoo.errors.located(caught.value)
    assert where.startswith("classifier breaks-at-step-3 (provider broken), training step 3, at ")
    assert where.endswith(f"test_failed_runs.py:{_BreaksAtStep3.training_step.__code__.co_firstlineno + 3}")
    info = recorded(tmp_path)
    assert info["status"] == "failed" and info["step"] == 2
    assert info["error"] == "TypeError: unsupported operand in my step" and info["where"] == where
    run = open_run(tmp_path / "run")
    assert run.status == "failed" and run.error.startswith("TypeError")


def test_the_report_and_nlpzoo_runs_show_the_failure(tmp_path, broken, cli):
    with pytest.raises(TypeError):
        train(tmp_path, "breaks-at-step-3")
    from nlpzoo_reports.report import write_report

    page = write_report(tmp_path / "run").read_text()
    assert "ended with" in page and "TypeError: unsupported operand in my step" in page
    assert "No final metrics: the run is failed" in page
    listing = cli("runs", str(tmp_path), "--json")
    assert json.loads(listing.stdout)[0]["status"] == "failed"


def test_a_bug_in_a_constructor_names_the_component_and_its_line_and_writes_nothing(tmp_path, broken):
    with pytest.raises(RuntimeError) as caught:
        train(tmp_path, "breaks-when-built")
    assert nlpzoo.errors.located(caught.value).startswith("classifier breaks-when-built (provider broken), building it, at ")
    assert not (tmp_path / "run" / "run.json").exists()


def test_an_augmenter_that_raises_during_training_is_named_as_the_culprit(tmp_path, broken):
    with pytest.raises(KeyError) as caught:
        train(tmp_path, "augments", "augment: {name: key-error}\n")
    assert nlpzoo.errors.located(caught.value).startswith("augmenter key-error (provider broken), training step 1, at ")
    assert recorded(tmp_path)["status"] == "failed" and recorded(tmp_path)["error"] == "KeyError: 'missing'"


def test_an_interrupted_run_records_interrupted(tmp_path, broken):
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, "interrupted-at-step-2")
    assert recorded(tmp_path)["status"] == "interrupted" and recorded(tmp_path)["step"] == 1


def test_a_killed_run_reads_as_interrupted_not_running(tmp_path):
    folder = tmp_path / "killed"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"status": "running", "started": "2026-01-01T00:00:00",
                                                 "model": {"kind": "classifier", "name": "m", "provider": "p"}}))
    run = open_run(folder)  # no process holds its lock: whoever wrote "running" is gone
    assert run.status == "interrupted" and "killed" in run.error
    from nlpzoo_training.lock import RunLock

    with RunLock(folder):
        assert open_run(folder).status == "running"


def test_the_loops_own_nan_stop_fails_the_run_in_its_record(tmp_path, broken):
    with pytest.raises(nlpzoo.NlpzooError, match="the training loss is nan"):
        train(tmp_path, "nan-loss")
    info = recorded(tmp_path)
    assert info["status"] == "failed" and info["error"].startswith("TrainingError: the training loss is nan")


def test_the_cli_prints_one_line_with_the_component_the_phase_and_the_line(tmp_path, broken):
    from click.testing import CliRunner

    from nlpzoo.cli import cli as app
    from nlpzoo.plugins import get_manager

    get_manager().add_commands(app)  # what `nlpzoo` does before it reads the command line: train is the engine's
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset: {name: polarity-200}\nmodel: {name: breaks-at-step-3}\n"
                      "train: {epochs: 1, progress: false, plots: false}\n")
    result = CliRunner().invoke(app, ["train", str(recipe), "--run-dir", str(tmp_path / "run")])
    lines = [line for line in result.output.splitlines() if line.startswith("nlpzoo: error:")]
    assert result.exit_code == 1 and len(lines) == 1
    assert lines[0].startswith("nlpzoo: error: TypeError: unsupported operand in my step (in classifier "
                               "breaks-at-step-3 (provider broken), training step 3, at ")
    assert "Traceback" not in result.output


def test_an_augmenter_the_task_never_asks_for_is_warned_about(tmp_path, broken):
    import nlpzoo_augment.plugin

    broken.add_plugin(nlpzoo_augment.plugin, "augment")
    with pytest.warns(UserWarning, match="epoch 0 ended without the model's task calling run.augment_texts"):
        train(tmp_path, "sound", "augment: {name: random-swap}\n")


def test_the_scaffolds_classifier_augments_its_training_texts(tmp_path, broken, monkeypatch):
    import nlpzoo_augment.plugin

    from nlpzoo_starters.scaffold import new_plugin

    broken.add_plugin(nlpzoo_augment.plugin, "augment")
    root = new_plugin("made-here", "classifier", tmp_path)
    monkeypatch.syspath_prepend(str(root))
    import nlpzoo_made_here.plugin

    broken.add_plugin(nlpzoo_made_here.plugin, "made-here")
    plain = train(tmp_path / "plain", "made-here")
    augmented = train(tmp_path / "augmented", "made-here", "augment: {name: random-deletion, rate: 0.5}\n")
    assert augmented != plain  # the recipe's augmenter changed what the model learned
