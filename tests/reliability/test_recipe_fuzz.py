"""Recipes and ``--set``: any mutation of a real recipe is accepted or refused in one line at its place.

And what is accepted is usable: ``validate means it``. A recipe that loads and builds gives train
settings the loop accepts, an optimizer torch accepts, a scheduler that steps, augmenters that
augment (the models themselves are trained at the edges of their ranges in test_validate_means_it.py).
"""
from __future__ import annotations

import math
import random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpzoo
from nlpzoo import load_recipe
from nlpzoo.errors import ConfigError
from reliability_support import examples, refused_cleanly

BASES = {
    "classifier": {
        "seed": 3, "dataset": {"name": "polarity-200", "seed": 0},
        "model": {"name": "lstm-classifier", "embedding_dim": 8, "hidden_size": 8, "max_length": 16, "dropout": 0.2,
                  "embedder": {"name": "word2vec", "vector_size": 8, "min_count": 1, "epochs": 1}},
        "augment": [{"name": "eda", "alpha": 0.1}, {"name": "char-swap", "rate": 0.05}],
        "optimizer": {"name": "adamw", "lr": 5e-3, "betas": [0.9, 0.99]},
        "scheduler": {"name": "cosine-warmup", "warmup": 0.1},
        "train": {"epochs": 2, "batch_size": 16, "metric": "accuracy", "checkpoint_every": 4, "ema": 0.99},
    },
    "language_model": {
        "dataset": {"name": "hamlet", "seed": 1},
        "model": {"name": "lstm-lm", "embedding_dim": 8, "hidden_size": 8, "bptt": 8, "tokenizer": "char"},
        "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.9},
        "scheduler": {"name": "one-cycle", "pct_start": 0.2},
        "train": {"epochs": 1, "max_steps": 3, "metric": "perplexity", "grad_accum": 2},
    },
    "gan": {
        "dataset": {"name": "mnist-5k", "limit": 100},
        "model": {"name": "dcgan", "latent": 8, "g_width": 4, "d_width": 4, "quality": False},
        "scheduler": {"name": "step", "step_size": 10, "gamma": 0.5},
        "train": {"epochs": 1, "batch_size": 32, "metric": "loss_g", "early_stopping": 2},
    },
}


def random_value(rng: random.Random, depth: int = 0):
    """A YAML value of any shape nlpzoo might be handed: edge numbers, wrong types, specs, nesting."""
    names = ["adamw", "sgd", "cosine", "eda", "lstm-lm", "polarity-200", "word2vec", "dcgan", "nope", "minilm-l6"]
    choice = rng.randrange(16 if depth < 3 else 12)
    return [
        lambda: rng.choice([0, 1, -1, 2, 3, 10**6, -(2**63), 2**63, 2**64 + 1, 10**30, 10**4000]),
        lambda: rng.choice([0.0, -0.0, 1e-12, 0.5, 0.999999, 1.0, 1.5, -1e-3, 1e308, 1e-320, math.inf, -math.inf, math.nan]),
        lambda: rng.uniform(-3, 3),
        lambda: rng.randrange(-5, 100),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(["", "x", "accuracy", "acuracy", "loss", "bf16", "fp16", "max", "auto", "1e-3", "nan", "-1"]),
        lambda: rng.choice(names),
        lambda: "".join(rng.choice("ab:{}[]-*& \n") for _ in range(rng.randrange(12))),
        lambda: {"name": rng.choice(names)},
        lambda: {"name": rng.choice(names), rng.choice(["lr", "rate", "warmup", "seed", "limit", "x"]): random_value(rng, depth + 1)},
        lambda: [],
        lambda: {},
        lambda: [random_value(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: {rng.choice(["name", "lr", "a", "1", "seed"]): random_value(rng, depth + 1) for _ in range(rng.randrange(4))},
        lambda: [{"name": rng.choice(names)} for _ in range(rng.randrange(1, 3))],
        lambda: {"name": rng.choice(names), "embedder": {"name": rng.choice(names), "vector_size": random_value(rng, depth + 1)}},
    ][choice]()


def key_paths(data, prefix: tuple = ()) -> list[tuple]:
    """Every key path in ``data``, as tuples (keys may hold dots: catalogue file names do)."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        path = (*prefix, key)
        out.append(path)
        out += key_paths(value, path)
    return out


def mutate(data: dict, rng: random.Random) -> dict:
    """One to three random edits: a value replaced, a key removed, renamed with a typo, or added."""
    import copy

    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = key_paths(data)
        if not paths:
            data["model"] = random_value(rng)
            continue
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.randrange(4)
        if action == 0 or isinstance(parent, list):
            parent[last] = random_value(rng)
        elif action == 1:
            del parent[last]
        elif action == 2:
            parent[str(last)[:-1] + rng.choice("sxe") if last else "x"] = parent.pop(last)
        else:
            parent[rng.choice(["lr", "warmup", "dropout", "seed", "epochs", "metric", "limit", "zzz"])] = random_value(rng)
    return data


def dump(data) -> str:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)


def builds(recipe) -> None:
    """What ``nlpzoo validate`` does after loading: construct every slot's component."""
    from nlpzoo.recipe import SLOTS

    for slot in SLOTS:
        if slot in recipe.specs:
            recipe.build(slot)


def usable(recipe) -> None:
    """Accepted by validate means usable by train: settings, optimizer, scheduler and augmenters work."""
    import torch

    from nlpzoo_training.config import TrainConfig

    TrainConfig(**recipe.train).check()
    param = torch.nn.Parameter(torch.zeros(3))
    opt = recipe.build("optimizer").create([param]) if "optimizer" in recipe.specs else torch.optim.SGD([param], lr=0.1)
    if "scheduler" in recipe.specs:
        sched = recipe.build("scheduler")
        made = sched.create(opt, 7)
        for _ in range(7):
            opt.step()
            made.step(1.0) if sched.steps_on == "metric" else made.step()
    if "augment" in recipe.specs:
        for aug in recipe.build("augment"):
            assert isinstance(aug.augment(["the quick brown fox jumps over the lazy dog"], seed=1)[0], str)


@pytest.fixture(scope="module", autouse=True)
def plugins_ready():
    if "lstm-classifier" not in nlpzoo.components() or "dcgan" not in nlpzoo.components():
        pytest.skip("needs the lstm and dcgan plugins")


@settings(max_examples=examples(80))
@given(st.sampled_from(sorted(BASES)), st.integers(0, 2**32))
@pytest.mark.slow
def test_mutated_recipes_load_or_fail_at_their_line_and_what_loads_is_usable(tmp_path_factory, base, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("recipes", numbered=True)
    for i in range(8):
        path = folder / f"r{i}.yaml"
        path.write_text(dump(mutate(BASES[base], rng)))
        recipe, error = refused_cleanly(load_recipe, path)
        if error is not None:
            assert isinstance(error, ConfigError) and error.file == str(path), error
            assert error.line is not None or error.loc == "model", error
            continue
        built, error = refused_cleanly(builds, recipe)
        if error is None:
            usable(recipe)


def random_override(rng: random.Random, data: dict) -> str:
    paths = [".".join(map(str, p)) for p in key_paths(data)] + ["train.epochs", "train.metric", "seed", "model", "x.y.z", "", ".", "a..b", "model.0",
                               "augment.0.alpha", "augment.9", "augment.x", "train.ema.x", "dataset.name"]
    key = rng.choice(paths)
    if rng.random() < 0.1:
        key += rng.choice([".", "..", "=", " ", "\n"])
    if rng.random() < 0.5:
        value = yaml.safe_dump(random_value(rng), default_flow_style=True).strip()
        value = value[:-4].strip() if value.endswith("\n...") else value
    else:
        value = "".join(rng.choice(list("ab1-:{}[],&*!|>'\"#% \n") + ["!!int", "*a", "&a", "0x", "1e"]) for _ in range(rng.randrange(15)))
    return f"{key}={value}" if rng.random() > 0.03 else key


@settings(max_examples=examples(200))
@given(st.sampled_from(sorted(BASES)), st.integers(0, 2**32))
@pytest.mark.slow
def test_any_set_option_is_applied_or_named_in_one_line(tmp_path_factory, base, seed):
    rng = random.Random(seed)
    path = tmp_path_factory.mktemp("set", numbered=True) / "r.yaml"
    path.write_text(dump(BASES[base]))
    for _ in range(8):
        overrides = [random_override(rng, BASES[base]) for _ in range(rng.randint(1, 3))]
        recipe, error = refused_cleanly(load_recipe, path, overrides)
        if error is not None:
            assert isinstance(error, ConfigError), error
            assert error.file == str(path) or (error.file or "").startswith("--set ") or error.loc == "--set", error


@pytest.mark.parametrize("value, message", [
    ("seed=[", "--set seed=[: seed: invalid YAML"),
    ("train.epochs=abc", "--set train.epochs=abc: train.epochs: expected int, got 'abc'"),
    ("train.epochs=" + "9" * 5000, "integer of 5,000 digits is too long"),
    ("seed=" + "9" * 100, "--set seed=9"),
    ("train.max_steps=-1", "train.max_steps: expected 1 <= max_steps <= 10^12, got -1"),
    ("train.epochs=1e308", "train.epochs: expected an int between -2^63 and 2^63-1"),
    ("optimizer.lr=.nan", "optimizer.lr: expected a number, got nan"),
    ("optimizer.lr=-1", "optimizer.lr: expected lr > 0, got -1"),
    ("model.dropout=1.5", "model.dropout: expected 0 <= dropout < 1, got 1.5"),
    ("train.metric=acuracy", "train.metric: 'acuracy' is not a validation metric of lstm-classifier (did you mean 'accuracy'?)"),
    ("augment.7.alpha=1", "expected an index from 0 to 1 into the list"),
    ("model.=3", "expected a key path like train.epochs"),
    ("noequals", "--set: expected KEY.PATH=VALUE"),
    ("x=&a [*a]", "recursive alias"),
])
def test_set_errors_name_the_option(tmp_path, value, message):
    path = tmp_path / "r.yaml"
    path.write_text(dump(BASES["classifier"]))
    recipe, error = refused_cleanly(load_recipe, path, [value])
    assert error is not None and message in str(error), str(error)
    assert str(error).startswith("--set") or "--set" in str(error)
