"""Run folders are untrusted: tampered pointers, checkpoints, run.json and model files are refused in one line.

Every case copies a real finished run (or its checkpoints) and changes one thing, then reads it back
the way ``--resume`` and ``open_run`` do. Nothing may be read from outside the run folder, and any
problem is a CheckpointError or ConfigError that names the file.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlpzoo.errors import ConfigError, NlpzooError
from reliability_support import TALLY, examples, refused_cleanly
from test_recipe_fuzz import key_paths, random_value

OUTSIDE = ["../../../../etc", "/etc", "..", ".", "", "step-00000020/../..", "../finished/checkpoints/step-00000020",
           "escape", "x" * 300, "step-00000020\x00", "best-00000010/", "nets.safetensors", "latest.json"]


@pytest.fixture(scope="module")
def checkpoints(finished_run, tmp_path_factory):
    """A copy of the finished run's checkpoints, with a symlink leading out of it."""
    root = tmp_path_factory.mktemp("ckpt") / "checkpoints"
    shutil.copytree(finished_run / "checkpoints", root)
    (root / "escape").symlink_to(finished_run / "checkpoints" / json.loads((root / "latest.json").read_text())["last"])
    return root


def json_values(rng: random.Random):
    value = random_value(rng)
    return json.loads(json.dumps(value, default=str).replace("NaN", "null").replace("Infinity", "1e308"))


@settings(max_examples=examples(150))
@given(st.integers(0, 2**32))
def test_a_latest_pointer_never_leads_out_of_the_checkpoints(checkpoints, seed):
    from nlpzoo_training.checkpoint import CheckpointError, load_checkpoint

    rng = random.Random(seed)
    original = json.loads((checkpoints / "latest.json").read_text())
    try:
        for _ in range(4):
            pointer = dict(original)
            for key in rng.sample(["last", "best", "step"], rng.randint(1, 3)):
                pointer[key] = rng.choice(OUTSIDE) if rng.random() < 0.6 else json_values(rng)
            if rng.random() < 0.1:
                pointer = json_values(rng)
            (checkpoints / "latest.json").write_text(json.dumps(pointer))
            state, error = refused_cleanly(load_checkpoint, checkpoints)
            if error is not None:
                assert isinstance(error, CheckpointError) and error.path == str(checkpoints / "latest.json"), error
            else:
                assert pointer["last"] == original["last"]
                assert Path(state["folder"]).resolve().parent == checkpoints.resolve()
    finally:
        (checkpoints / "latest.json").write_text(json.dumps(original))


def mutate_json(data, rng: random.Random):
    """One random change somewhere in a JSON tree: a value replaced, or a key removed."""
    import copy

    data = copy.deepcopy(data)
    paths = key_paths(data)
    path = rng.choice(paths)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[path[-1]]
    else:
        parent[path[-1]] = json_values(rng)
    return data


@settings(max_examples=examples(150))
@given(st.integers(0, 2**32))
@pytest.mark.slow
def test_a_mutated_state_json_loads_or_is_refused_naming_it(checkpoints, seed):
    from nlpzoo_training.checkpoint import CheckpointError, load_checkpoint

    rng = random.Random(seed)
    last = json.loads((checkpoints / "latest.json").read_text())["last"]
    path = checkpoints / last / "state.json"
    original = path.read_text()
    data = json.loads(original)
    try:
        for _ in range(4):
            path.write_text(json.dumps(mutate_json(data, rng)))
            state, error = refused_cleanly(load_checkpoint, checkpoints)
            if error is not None:
                assert isinstance(error, CheckpointError) and error.path.startswith(str(checkpoints / last)), error
    finally:
        path.write_text(original)


@settings(max_examples=examples(60))
@given(st.integers(0, 2**32), st.sampled_from(["state.safetensors", "nets.safetensors"]))
def test_corrupt_checkpoint_tensors_are_refused_naming_the_file(checkpoints, seed, name):
    from nlpzoo_training.checkpoint import CheckpointError, load_checkpoint

    rng = random.Random(seed)
    last = json.loads((checkpoints / "latest.json").read_text())["last"]
    path = checkpoints / last / name
    original = path.read_bytes()
    try:
        for _ in range(3):
            data = bytearray(original)
            how = rng.randrange(3)
            if how == 0:
                data = data[:rng.randrange(len(data))]
            elif how == 1:
                for _ in range(rng.randint(1, 8)):
                    data[rng.randrange(min(len(data), 200))] = rng.randrange(256)  # the header
            else:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            path.write_bytes(bytes(data))
            state, error = refused_cleanly(load_checkpoint, checkpoints)
            if error is not None:
                assert isinstance(error, CheckpointError) and error.path.startswith(str(checkpoints / last)), error
    finally:
        path.write_bytes(original)


@pytest.fixture(scope="module")
def run_copy(finished_run, tmp_path_factory):
    copy = tmp_path_factory.mktemp("runcopy") / "run"
    shutil.copytree(finished_run, copy)
    return copy


@settings(max_examples=examples(100))
@given(st.integers(0, 2**32))
@pytest.mark.slow
def test_a_mutated_run_json_opens_or_is_refused_naming_it(run_copy, seed):
    from nlpzoo.runs import open_run

    rng = random.Random(seed)
    path = run_copy / "run.json"
    original = path.read_text()
    data = json.loads(original)
    try:
        for _ in range(4):
            path.write_text(json.dumps(mutate_json(data, rng)))

            def load():
                handle = open_run(run_copy)
                return handle.model.predict(["a fine film"])

            result, error = refused_cleanly(load)
            if error is not None:
                assert isinstance(error, NlpzooError) and str(run_copy) in str(error), error
    finally:
        path.write_text(original)


@settings(max_examples=examples(80))
@given(st.integers(0, 2**32))
def test_a_tampered_model_folder_is_refused_by_the_recorded_sha256(run_copy, seed):
    from nlpzoo.runs import open_run

    rng = random.Random(seed)
    model = run_copy / "model"
    backup = run_copy.parent / "model-backup"
    if not backup.exists():
        shutil.copytree(model, backup)
    try:
        files = sorted(p for p in model.rglob("*") if p.is_file())
        victim = rng.choice(files)
        how = rng.choice(["flip", "truncate", "extra", "remove", "symlink"])
        if how == "flip":
            data = bytearray(victim.read_bytes())
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            victim.write_bytes(bytes(data))
        elif how == "truncate":
            victim.write_bytes(victim.read_bytes()[:rng.randrange(victim.stat().st_size)])
        elif how == "extra":
            (model / rng.choice(["pytorch_model.bin", "x.json", "tokenizer.json.bak"])).write_text("{}")
        elif how == "remove":
            victim.unlink()
        else:
            victim.unlink()
            victim.symlink_to("/etc/hostname")
        model_loaded, error = refused_cleanly(lambda: open_run(run_copy).model)
        assert error is not None and isinstance(error, ConfigError) and str(model) in str(error), (how, error)
        TALLY.faults += 1
    finally:
        shutil.rmtree(model)
        shutil.copytree(backup, model)
