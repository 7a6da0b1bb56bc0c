"""``nlpzoo sweep``: a space over recipe keys, checked before anything trains; every trial an ordinary
run; best.yaml trains again to the same validation score; the sweep page in a real browser."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import optuna
import pytest
import yaml
from browser import Page, dump_dom

from nlpzoo import ConfigError
from nlpzoo_sweep.space import read_space

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
seed: 0
dataset: {name: rotten-tomatoes, limit: 300}
model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
optimizer: {name: adamw, lr: 3.0e-3}
train: {epochs: 3, batch_size: 32, metric: loss, log_every: 5, plots: false}
"""
ENV = {"OMP_NUM_THREADS": "1"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- the space


def test_a_space_file_gives_choices_ranges_and_conditions(tmp_path):
    space = read_space(write(tmp_path, "space.yaml", """\
        optimizer.lr: {low: 1.0e-5, high: 1.0e-3, log: true}   # YAML 1.1 reads 1.0e-5 as a number, 1e-5 as text
        train.batch_size: [16, 32]
        model.hidden_size: {low: 32, high: 128, step: 32}
        augment: [null, eda, {name: sometimes, p: 0.5, augmenter: eda}]
        augment.alpha: {low: 0.05, high: 0.3, when: {augment: eda}}
        """))
    lr, batch, hidden, augment, alpha = space.params
    assert (lr.low, lr.high, lr.log, lr.integer) == (1e-5, 1e-3, True, False)
    assert batch.choices == [16, 32] and hidden.integer and hidden.step == 32
    assert augment.choices[2] == {"name": "sometimes", "p": 0.5, "augmenter": "eda"}
    assert alpha.when == {"augment": ["eda"]} and alpha.line == 5

    with_eda = space.suggest(optuna.trial.FixedTrial(
        {"optimizer.lr": 1e-4, "train.batch_size": 16, "model.hidden_size": 64, "augment": "eda", "augment.alpha": 0.1}))
    assert with_eda == {"optimizer.lr": 1e-4, "train.batch_size": 16, "model.hidden_size": 64, "augment": "eda",
                        "augment.alpha": 0.1}
    nested = json.dumps(augment.choices[2])  # Optuna stores a nested spec as its JSON text
    without = space.suggest(optuna.trial.FixedTrial(
        {"optimizer.lr": 1e-4, "train.batch_size": 16, "model.hidden_size": 64, "augment": nested}))
    assert without["augment"] == augment.choices[2] and "augment.alpha" not in without


def test_the_same_syntax_works_in_a_recipes_sweep_section_which_train_leaves_alone(tmp_path, cli):
    recipe = write(tmp_path, "r.yaml", TINY + "sweep:\n  optimizer.lr: [1.0e-3, 3.0e-3]\n  train.batch_size: [16, 32]\n")
    space = read_space(recipe, section="sweep")
    assert [p.key for p in space.params] == ["optimizer.lr", "train.batch_size"] and space.params[0].line == 7
    done = cli("validate", str(recipe), env=ENV)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr


def test_the_bert_papers_grid_is_exactly_its_18_points():
    space = read_space(ROOT / "recipes" / "sweeps" / "bert-paper-grid.yaml")
    assert space.grid() == {"optimizer.lr": [5e-5, 3e-5, 2e-5], "train.batch_size": [16, 32], "train.epochs": [2, 3, 4]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space.grid(), seed=0))
    study.optimize(lambda trial: len(space.suggest(trial)), n_trials=30)  # the grid sampler stops at its size
    points = [tuple(t.params.values()) for t in study.trials]
    assert len(points) == 18 and len(set(points)) == 18
    space.check(str(ROOT / "recipes" / "bert-rotten-tomatoes.yaml"))  # every point makes a valid recipe


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_seed_draws_the_same_trials_and_another_seed_others(tmp_path, sampler):
    from nlpzoo_sweep.study import Sweep, sampler_for

    recipe = write(tmp_path, "tiny.yaml", TINY)
    space = read_space(write(tmp_path, "space.yaml", """\
        optimizer.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
        augment: [null, eda]
        augment.alpha: {low: 0.05, high: 0.3, when: {augment: eda}}
        """))

    def drawn(seed: int) -> list[dict]:
        sweep = Sweep(recipe=str(recipe), space=space, folder=tmp_path / "sw", sampler=sampler, seed=seed)
        study = optuna.create_study(sampler=sampler_for(sweep))
        study.optimize(lambda trial: space.suggest(trial)["optimizer.lr"], n_trials=12)  # a stand-in objective
        return [t.params for t in study.trials]

    first = drawn(0)
    assert first == drawn(0) and first != drawn(1)
    assert {"augment.alpha" in p for p in first} == {True, False}  # the condition holds in some trials only


@pytest.mark.parametrize("text, expected", [
    ("optimizer.lr: {low: 1.0e-2, high: 1.0e-4}\n", "space.yaml:1: optimizer.lr: low must be below high"),
    ("train.epochs: [1, 2]\noptimizer.lr: {low: 1.0e-4, hihg: 1.0e-2}\n",
     "space.yaml:2: optimizer.lr.hihg: unknown key 'hihg' (did you mean 'high'?)"),
    ("optimizer.lr: {low: 0, high: 1.0e-2, log: true}\n", "space.yaml:1: optimizer.lr.low: a log range needs low > 0"),
    ("train.batch_size: []\n", "space.yaml:1: train.batch_size: expected at least one choice"),
    ("augment: [null, eda]\naugment.alpha: {low: 0.1, high: 0.2, when: {augmnet: eda}}\n",
     "space.yaml:2: augment.alpha.when: 'augmnet' is not a choice listed above this key (did you mean 'augment'?)"),
    ("augment: [null, eda]\naugment.alpha: {low: 0.1, high: 0.2, when: {augment: edda}}\n",
     "space.yaml:2: augment.alpha.when.augment: edda is never chosen for augment (did you mean 'eda'?)"),
    ("augment: {name: eda}\n", "space.yaml:1: augment.name: unknown key 'name' (a nested spec as one choice goes in a list"),
])
def test_a_malformed_space_is_one_line_with_file_line_and_key(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_space("space.yaml")
    assert str(caught.value).startswith(expected), str(caught.value)


@pytest.mark.parametrize("space, expected", [
    ("augment: [null, eda]\naugment.alpha: {low: 0.05, high: 0.3}\n",
     "space.yaml:2: augment.alpha: 0.05 with augment=null makes an invalid recipe (augment: missing 'name'"),
    ("model.hidden_size: [16, 0]\n", "space.yaml:1: model.hidden_size: 0 makes an invalid recipe (model.hidden_size: "),
    ("model.embedder: [null, word2vecc]\n", "space.yaml:1: model.embedder: word2vecc makes an invalid recipe "
                                            "(model.embedder: unknown embedder 'word2vecc'; did you mean 'word2vec' or 'word-vectors'?)"),
])
def test_an_impossible_space_is_refused_before_anything_trains(tmp_path, cli, space, expected):
    recipe = write(tmp_path, "tiny.yaml", TINY)
    write(tmp_path, "space.yaml", space)
    done = cli("sweep", "tiny.yaml", "--space", "space.yaml", "--trials", "2", "--dir", "out", cwd=str(tmp_path), env=ENV)
    assert done.returncode == 1 and done.stderr.startswith("nlpzoo: error: " + expected), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "out").exists() and recipe.exists()


def test_a_grid_needs_choices_and_no_more_trials_than_points(tmp_path, cli):
    write(tmp_path, "tiny.yaml", TINY)
    write(tmp_path, "space.yaml", "optimizer.lr: {low: 1.0e-4, high: 1.0e-2}\n")
    done = cli("sweep", "tiny.yaml", "--space", "space.yaml", "--sampler", "grid", cwd=str(tmp_path), env=ENV)
    assert done.returncode == 1 and "space.yaml:1: optimizer.lr: the grid sampler needs a list of choices" in done.stderr
    write(tmp_path, "space.yaml", "optimizer.lr: [1.0e-3, 3.0e-3]\n")
    done = cli("sweep", "tiny.yaml", "--space", "space.yaml", "--sampler", "grid", "--trials", "3", cwd=str(tmp_path), env=ENV)
    assert done.returncode == 1 and "--trials: the grid has 2 points; ask for at most that many" in done.stderr


def test_status_of_a_folder_without_a_sweep_says_how_to_start_one(tmp_path, cli):
    done = cli("sweep", "--status", str(tmp_path))
    assert done.returncode == 1 and "no sweep here (no sweep.json); start one with nlpzoo sweep RECIPE" in done.stderr


# ---------------------------------------------------------------- a real sweep (tiny LSTM, a few seconds a trial)


@pytest.fixture(scope="module")
def swept(module_folder, cli):
    """A grid over three learning rates with successive halving: the worst start is stopped early."""
    folder = module_folder("sweep")
    write(folder, "tiny.yaml", TINY)
    write(folder, "space.yaml", "optimizer.lr: [3.0e-3, 1.0e-6, 1.0e-2]\naugment: [random-swap]\n")
    done = cli("sweep", "tiny.yaml", "--space", "space.yaml", "--sampler", "grid", "--pruner", "halving",
               "--seed", "0", "--dir", "sw", "--set", "train.batch_size=64", cwd=str(folder), env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, folder / "sw", done


def trials_of(sweep: Path):
    settings = json.loads((sweep / "sweep.json").read_text())
    return optuna.load_study(study_name=settings["study"], storage=settings["storage"]).trials


@pytest.mark.slow
def test_every_trial_is_an_ordinary_run_folder_with_the_values_it_took(swept, cli):
    folder, sweep, done = swept
    trials = trials_of(sweep)
    assert len(trials) == 3 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    for t in trials:
        run = sweep / f"trial-{t.number:04d}"
        recipe = yaml.safe_load((run / "recipe.yaml").read_text())
        assert float(recipe["optimizer"]["lr"]) == t.params["optimizer.lr"]
        assert recipe["train"]["batch_size"] == 64 and "sweep" not in recipe  # --set applies to every trial
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == ("pruned" if t.state.name == "PRUNED" else "finished")
        assert t.value == pytest.approx(info["metrics"]["val_loss"] if t.state.name == "COMPLETE" else t.value)
    listed = cli("runs", str(sweep)).stdout.splitlines()[1:]
    assert sorted(line.split()[0] for line in listed) == [f"trial-{t.number:04d}" for t in trials]
    predicted = cli("predict", str(sweep / "trial-0000"), "a gorgeous, witty, seductive movie", env=ENV)
    assert predicted.returncode == 0 and predicted.stdout.split("\t")[0] in ("fresh", "rotten"), predicted.stderr


@pytest.mark.slow
def test_a_trial_stopped_by_the_pruner_is_a_finished_run_marked_pruned(swept):
    _, sweep, done = swept
    pruned = [t for t in trials_of(sweep) if t.state.name == "PRUNED"]
    assert pruned, done.stdout  # the grid's order under seed 0 puts 1e-6 after a better start
    for t in pruned:
        assert len(t.intermediate_values) < 3  # fewer evaluations than the recipe's 3 epochs
        run = sweep / t.user_attrs["run"]
        assert (run / "model").is_dir() and (run / "report.html").exists()
        assert f"trial {t.number} pruned after evaluation {len(t.intermediate_values)}" in done.stdout


@pytest.mark.slow
def test_progress_lines_need_no_terminal_and_status_prints_the_table(swept, cli):
    _, sweep, done = swept
    lines = done.stdout.splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines), done.stdout
    assert "\r" not in done.stdout and "\x1b[" not in done.stdout and "Epoch" not in done.stdout
    assert "sweep done: " in lines[-3] and lines[-1].endswith("sw/sweep.html")
    status = cli("sweep", "--status", str(sweep))
    assert status.returncode == 0, status.stderr
    header, *rows, last = status.stdout.strip().splitlines()
    assert header.split()[:4] == ["trial", "state", "val_loss", "seconds"]
    trials = trials_of(sweep)
    assert [r.split()[1] for r in rows] == [t.state.name.lower() for t in trials]
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert last == f"3 of 3 trials finished; best: trial {best.number}, val_loss {best.value:.4f}"


@pytest.mark.slow
def test_best_yaml_trains_again_to_the_same_validation_score(swept, cli):
    folder, sweep, _ = swept
    best = min((t for t in trials_of(sweep) if t.state.name == "COMPLETE"), key=lambda t: t.value)
    done = cli("train", str(sweep / "best.yaml"), "--run-dir", str(folder / "again"), env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    again = json.loads((folder / "again" / "metrics.json").read_text())
    assert again["val_loss"] == pytest.approx(best.value, abs=1e-6)


@pytest.mark.slow
def test_compare_shows_the_keys_the_space_changed_between_two_trials(swept, cli):
    folder, sweep, _ = swept
    out = folder / "compare.html"
    done = cli("compare", str(sweep / "trial-0000"), str(sweep / "trial-0001"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    recipes = out.read_text().split("<table class='recipes'>")[1].split("</table>")[0]
    assert "optimizer.lr" in recipes and "augment" not in recipes  # one choice only: the same in both


@pytest.mark.slow
def test_the_sweep_page_in_a_browser(swept, tmp_path):
    _, sweep, _ = swept
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page) and "default-src 'none'" in page
    dom = Page(dump_dom(sweep / "sweep.html", tmp_path / "profile"))
    text = " ".join(dom.text)
    for heading in ("Trials", "Best value over trials", "Parameter importance", "Each parameter against the objective",
                    "Pruned trials"):
        assert heading in dom.text, heading
    trials = trials_of(sweep)
    for t in trials:
        assert f"trial-{t.number:04d}" in dom.text
    assert "optimizer.lr against val_loss" in text and "best val_loss so far" in text
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert all(f"{v:.4f}" in text for t in pruned for v in t.intermediate_values.values())


def test_progress_lines_show_control_characters_instead_of_obeying_them(capsys):
    from nlpzoo_sweep.study import say

    say("trial 0: augment.name=\x1b]0;owned\x07 (window title)")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;owned\\x07" in out
