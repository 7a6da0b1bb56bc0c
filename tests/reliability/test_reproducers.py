"""Each reproducer from the reliability report, run as the user ran it: the real command in a subprocess.

Every one of these failed before (a hang, a traceback, a clobbered file, a line without its place)
and now gives one ``nlpzoo: error:`` line that names the file and line, the key, or the option.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys

import pytest

from reliability_support import TALLY, nlpzoo, no_traceback, one_line_error, write
from test_yaml_fuzz import bomb


def limited_memory():
    """Run a command with at most 3 GiB of address space: a regression must fail, not take the machine down."""
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


RECIPE_HEAD = "dataset: polarity-200\nmodel: {name: lstm-classifier, hidden_size: 8}\n"


# ---------------------------------------------------------------- untrusted YAML


def test_an_alias_bomb_is_refused_by_validate_and_as_a_catalogue(tmp_path):
    path = write(tmp_path / "bomb.yaml", bomb(9, 9))
    assert len(path.read_bytes()) < 500
    for args in (["validate", str(path)], ["--catalog", str(path), "list"]):
        line = one_line_error(nlpzoo(*args, timeout=60, preexec_fn=limited_memory))
        assert f"{path}:" in line and "expands to more than 100,000 nodes" in line, line


@pytest.mark.parametrize("body, where", [
    ("model: &a [*a]\n", ":1: recursive alias *a"),
    ("model:\n  name: " + "[" * 500 + "]" * 500 + "\n", ":2: "),
    ("seed: 1\nmodel: x\nseed: 2\n", ":3: duplicate key 'seed': first at line 1, again at line 3"),
    ("seed: " + "7" * 5000 + "\n", ":1: cannot read the value"),
])
def test_hostile_yaml_is_one_line_with_the_file_and_line(tmp_path, body, where):
    path = write(tmp_path / "r.yaml", body)
    line = one_line_error(nlpzoo("validate", str(path), timeout=60, preexec_fn=limited_memory))
    assert f"{path}{where}" in line, line


@pytest.mark.parametrize("what", ["recipe", "catalogue"])
def test_dev_zero_as_a_recipe_or_catalogue_is_refused_with_the_limit(what):
    args = ["validate", "/dev/zero"] if what == "recipe" else ["--catalog", "/dev/zero", "list"]
    line = one_line_error(nlpzoo(*args, timeout=60, preexec_fn=limited_memory))
    assert f"/dev/zero: {what} is larger than the limit of 2 MiB" in line, line


# ---------------------------------------------------------------- validate means it


@pytest.mark.parametrize("body, expected", [
    ("dataset: polarity-200\nmodel:\n", "r.yaml:2: model: a recipe needs a 'model'"),
    ("seed: 100000000000000000000000\n" + RECIPE_HEAD, "r.yaml:1: seed: expected 0 <= seed <= 2^32-1"),
    (RECIPE_HEAD + "optimizer: {name: adamw, lr: -0.001}\n", "r.yaml:3: optimizer.lr: expected lr > 0, got -0.001"),
    (RECIPE_HEAD + "optimizer: {name: adamw, lr: .nan}\n", "r.yaml:3: optimizer.lr: expected a number, got nan"),
    (RECIPE_HEAD + "optimizer: {name: adamw, weight_decay: -1}\n", "r.yaml:3: optimizer.weight_decay: expected weight_decay >= 0"),
    (RECIPE_HEAD + "scheduler: {name: cosine-warmup, warmup: -0.1}\n", "r.yaml:3: scheduler.warmup: expected warmup >= 0"),
    (RECIPE_HEAD + "scheduler: {name: linear-warmup, warmup: .nan}\n", "r.yaml:3: scheduler.warmup: expected a number, got nan"),
    ("dataset: polarity-200\nmodel: {name: lstm-classifier, dropout: -0.5}\n", "r.yaml:2: model.dropout: expected 0 <= dropout < 1"),
    ("dataset: polarity-200\nmodel: {name: lstm-classifier, hidden_size: -8}\n", "r.yaml:2: model.hidden_size: expected 1 <= hidden_size"),
    (RECIPE_HEAD + "train: {epochs: 1.0e+308}\n", "r.yaml:3: train.epochs: expected an int between -2^63 and 2^63-1"),
    (RECIPE_HEAD + "train: {max_steps: -1}\n", "r.yaml:3: train.max_steps: expected 1 <= max_steps"),
    (RECIPE_HEAD + "train: {weight_decay: -0.1}\n", "r.yaml:3: train.weight_decay: expected weight_decay >= 0"),
    (RECIPE_HEAD + "train: {metric: acuracy}\n", "r.yaml:3: train.metric: 'acuracy' is not a validation metric of lstm-classifier (did you mean 'accuracy'?)"),
    (RECIPE_HEAD + "train: {epochs: 1}\ntrain: {epochs: 2}\n", "r.yaml:4: duplicate key 'train': first at line 3, again at line 4"),
])
def test_what_validate_accepts_train_does_not_refuse_for_a_value_the_recipe_holds(tmp_path, body, expected):
    """Each of these passed validate and then failed or misbehaved in train; both now refuse it, alike."""
    path = write(tmp_path / "r.yaml", body)
    checked = one_line_error(nlpzoo("validate", str(path)))
    assert expected in checked, checked
    trained = one_line_error(nlpzoo("train", str(path), "--run-dir", str(tmp_path / "run")))
    assert trained == checked
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, expected", [
    ("seed=[", "--set seed=[: seed: invalid YAML"),
    ("train.epochs=abc", "--set train.epochs=abc: train.epochs: expected int, got 'abc'"),
    ("train.batch_size=0x", "--set train.batch_size=0x: train.batch_size: expected int, got '0x'"),
    ("model.hidden_size={", "--set model.hidden_size={: model.hidden_size: invalid YAML"),
    ("train=!!int", "--set train=!!int: train: cannot read the value"),
    ("seed=" + "9" * 5000, "an integer of 5,000 digits is too long"),
])
def test_set_values_are_one_line_naming_the_option(tmp_path, option, expected):
    path = write(tmp_path / "r.yaml", RECIPE_HEAD)
    line = one_line_error(nlpzoo("validate", str(path), "--set", option))
    assert expected in line, line


# ---------------------------------------------------------------- commands and options


@pytest.mark.parametrize("args, expected", [
    (["predict", "RUN", "x", "--batch-size", "0"], "--batch-size: expected an integer in [1, 10^6], got 0"),
    (["predict", "RUN", "x", "--batch-size", "-1"], "--batch-size: expected an integer in [1, 10^6], got -1"),
    (["generate", "RUN", "--top-p", "0"], "--top-p: expected a number in (0, 1], got 0"),
    (["generate", "RUN", "--temperature", "nan"], "--temperature: expected a finite number in [0, 100], got nan"),
    (["generate", "RUN", "--max-tokens", "-3"], "--max-tokens: expected an integer in [0, 10^6], got -3"),
    (["schedule", "cosine", "--steps", "0"], "--steps: expected an integer in [1, 10^6], got 0"),
    (["schedule", "cosine", "--lr", "inf"], "--lr: expected a finite number > 0, got inf"),
    (["sample", "RUN", "-n", "0"], "-n: expected an integer in [1, 10000], got 0"),
    (["augment", "eda", "--seed", "-1"], "--seed: expected an integer in [0, 2^32-1], got -1"),
])
def test_out_of_range_options_are_one_line_naming_the_option(finished_run, args, expected):
    """On a real run: ``predict --batch-size -1`` used to write no predictions and exit 0."""
    line = one_line_error(nlpzoo(*[str(finished_run) if a == "RUN" else a for a in args]))
    assert expected in line, line


def test_sample_and_neighbors_on_the_wrong_kind_of_run_say_which_kind_they_need(finished_run, tmp_path):
    for args, needs in ((["sample", str(finished_run), "-o", str(tmp_path / "s.png")], "nlpzoo sample needs a gan run"),
                        (["neighbors", str(finished_run), "film"], "nlpzoo neighbors needs an embedder run"),
                        (["generate", str(finished_run)], "nlpzoo generate needs a language_model run")):
        line = one_line_error(nlpzoo(*args))
        assert f"{finished_run}: is a classifier run (lstm-classifier); {needs}" in line, line


def test_augment_names_the_stdin_line_that_is_not_utf8():
    done = nlpzoo("augment", "random-swap", input=b"a fine film\nna\xefve \xff caf\xe9\n")
    line = one_line_error(done)
    assert "stdin:2: not UTF-8 text (byte 0xef at column 3)" in line, line
    assert done.stdout.splitlines()[0] != ""  # the good line before it was augmented


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    lines = write(tmp_path / "in.txt", "".join(f"line {i} of a long text to augment\n" for i in range(20000)))
    with open(lines, "rb") as stdin:
        process = subprocess.Popen([sys.executable, "-m", "nlpzoo.cli", "augment", "random-swap", "-n", "3"],
                                   stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # what `| head -1` does
    err = process.stderr.read().decode()
    process.wait(timeout=120)
    TALLY.cases += 1
    assert err == "" and process.returncode == 141, (process.returncode, err[-2000:])


# ---------------------------------------------------------------- output paths


@pytest.mark.slow
def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    target = write(tmp_path / "real.png", "old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    done = no_traceback(nlpzoo("schedule", "cosine", "--steps", "20", "-o", str(link)))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and target.read_bytes()[:4] == b"\x89PNG"


def test_outputs_that_are_not_regular_files_are_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    link_to_fifo = tmp_path / "to-fifo.png"
    link_to_fifo.symlink_to(fifo)
    cases = [(fifo, "is a FIFO"), (link_to_fifo, "is a FIFO (through the symlink"), (tmp_path, "is a folder")]
    if os.geteuid() == 0:  # a character device like /dev/null, made here: the real one is never touched
        device = tmp_path / "null"
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        cases.append((device, "is a character device"))
    for path, why in cases:
        line = one_line_error(nlpzoo("schedule", "cosine", "--steps", "20", "-o", str(path), timeout=60))
        assert f"--output: {path}: {why}" in line, line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link_to_fifo.is_symlink()
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode)


@pytest.mark.slow
def test_dash_is_standard_output_and_missing_folders_need_parents(tmp_path):
    done = nlpzoo("schedule", "cosine", "--steps", "20", "-o", "-")
    assert done.returncode == 0 and done.stdout.startswith("\ufffdPNG")  # bytes on stdout (decoded for the test)
    nested = tmp_path / "a" / "b" / "lr.png"
    line = one_line_error(nlpzoo("schedule", "cosine", "--steps", "20", "-o", str(nested)))
    assert f"the folder {nested.parent} does not exist; create it, or add --parents" in line, line
    made = nlpzoo("schedule", "cosine", "--steps", "20", "-o", str(nested), "--parents")
    assert made.returncode == 0 and nested.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_predict_writes_csv_to_stdout_and_refuses_a_fifo(finished_run, tmp_path):
    done = no_traceback(nlpzoo("predict", str(finished_run), "a fine film", "a dull one", "-o", "-"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "text,label,p_neg,p_pos" and len(done.stdout.splitlines()) == 3
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    line = one_line_error(nlpzoo("predict", str(finished_run), "x", "-o", str(fifo), timeout=60))
    assert "is a FIFO" in line


# ---------------------------------------------------------------- untrusted run folders


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy, symlinks=True)
    return copy


@pytest.mark.slow
def test_a_latest_pointer_out_of_the_run_is_refused(workdir, run_copy):
    from reliability_support import train

    pointer = run_copy / "checkpoints" / "latest.json"
    pointer.write_text(json.dumps({"last": "../../../../etc", "best": None, "step": 20}))
    line = one_line_error(train(workdir, workdir / "recipe.yaml", run_copy, "--resume"))
    assert f"{pointer}: 'last' must name a checkpoint folder inside" in line, line


@pytest.mark.slow
def test_a_malformed_state_json_is_one_line_naming_it(workdir, run_copy):
    from reliability_support import train

    pointer = json.loads((run_copy / "checkpoints" / "latest.json").read_text())
    state = run_copy / "checkpoints" / pointer["last"] / "state.json"
    data = json.loads(state.read_text())
    data["loop"] = 7  # what the report found: AttributeError: 'int' object has no attribute 'get'
    state.write_text(json.dumps(data))
    line = one_line_error(train(workdir, workdir / "recipe.yaml", run_copy, "--resume"))
    assert f"{state}: loop has the wrong type (int)" in line or f"{state}: expected a mapping at loop" in line, line


def test_a_corrupt_saved_model_is_refused_by_its_sha256(run_copy):
    weights = run_copy / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    line = one_line_error(nlpzoo("predict", str(run_copy), "a fine film"))
    assert f"{weights}: sha256" in line and "refusing to load it" in line, line


@pytest.mark.slow
def test_a_corrupt_model_without_recorded_sha256_is_still_one_line(run_copy):
    info = json.loads((run_copy / "run.json").read_text())
    del info["model_sha256"]  # a run saved before sha256 were recorded
    (run_copy / "run.json").write_text(json.dumps(info))
    weights = run_copy / "model" / "model.safetensors"
    weights.write_bytes(b"\x00" * 16 + weights.read_bytes()[16:])
    line = one_line_error(nlpzoo("predict", str(run_copy), "a fine film"))
    assert f"{weights}: cannot load weights: SafetensorError" in line, line


def test_the_saved_models_sha256_is_recorded_and_checked(finished_run):
    from nlpzoo.catalog import sha256_file

    recorded = json.loads((finished_run / "run.json").read_text())["model_sha256"]
    files = sorted(p.relative_to(finished_run / "model").as_posix() for p in (finished_run / "model").rglob("*") if p.is_file())
    assert sorted(recorded) == files and "model.safetensors" in recorded
    assert all(recorded[f] == sha256_file(finished_run / "model" / f) for f in files)
    TALLY.cases += 1
