"""What validate accepts, train does not refuse: every first-party model trains at the edges of its ranges.

A declared Range is a promise in both directions: outside it, ``validate`` refuses with the recipe
line; inside it, even at the very edge, training runs. Each case here is a recipe at the edges that
``validate`` accepts, trained for a step or two in this process.
"""
from __future__ import annotations

import math

import pytest
import yaml

from nlpzoo import load_recipe
from nlpzoo.plugins import get_manager
from reliability_support import TALLY

EDGE_MODELS = {
    "lstm-classifier at its smallest": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "lstm-classifier", "vocab_size": 3, "min_frequency": 0, "max_length": 1, "embedding_dim": 1,
                  "hidden_size": 1, "num_layers": 1, "dropout": 0.999, "embedding_dropout": 0.999, "pooling": "last",
                  "bidirectional": False},
        "train": {"epochs": 1, "max_steps": 2, "metric": "recall_pos"},
    },
    "lstm-classifier deep, bpe, no dropout, a tiny word2vec": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "lstm-classifier", "tokenizer": "bpe", "vocab_size": 3, "num_layers": 3, "dropout": 0.0,
                  "embedding_dropout": 0.0, "pooling": "mean", "hidden_size": 2, "embedding_dim": 1,
                  "embedder": {"name": "word2vec", "vector_size": 1, "window": 1, "min_count": 1, "negative": 0,
                               "hierarchical_softmax": True, "sample": 1.0, "alpha": 1e-9, "min_alpha": 0.0,
                               "epochs": 1, "max_final_vocab": 2}},
        "train": {"epochs": 1, "max_steps": 2, "metric": "macro_f1"},
    },
    "lstm-lm at its smallest": {
        "dataset": {"name": "hamlet"},
        "model": {"name": "lstm-lm", "tokenizer": "char", "vocab_size": 3, "min_frequency": 0, "embedding_dim": 1,
                  "hidden_size": 1, "num_layers": 1, "bptt": 1, "dropout": 0.999, "embedding_dropout": 0.999},
        "train": {"epochs": 1, "max_steps": 2, "metric": "perplexity", "batch_size": 1},
    },
    "dcgan at its smallest": {
        "dataset": {"name": "mnist-5k", "limit": 40},
        "model": {"name": "dcgan", "latent": 1, "g_width": 1, "d_width": 1, "beta1": 0.0, "beta2": 0.0,
                  "label_smoothing": 0.4999, "judge_epochs": 0, "grid": 1, "eval_samples": 2, "seed": 2**32 - 1},
        "train": {"epochs": 1, "max_steps": 1, "batch_size": 8, "metric": "d_fake"},
    },
    "bert-classifier at its edges": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "minilm-l6", "max_length": 2, "layer_decay": 1e-9, "freeze": "all-but-top", "top_layers": 10**4,
                  "unfreeze_per_epoch": 10**4, "label_smoothing": 0.999, "rdrop": 1e6, "dropout": 0.999,
                  "predict_batch_size": 1, "class_weights": {"pos": 1e-9, "neg": 1e9}},
        "train": {"epochs": 2, "max_steps": 2, "batch_size": 4, "metric": "precision_neg"},
    },
    "transformer-lm at its smallest": {
        "dataset": {"name": "hamlet"},
        "model": {"name": "transformer-lm", "tokenizer": "char", "vocab_size": 3, "min_frequency": 0, "d_model": 1,
                  "num_layers": 1, "num_heads": 1, "block_size": 2, "dropout": 0.999, "embedding_dim": 1,
                  "eval_stride": 1},
        "train": {"epochs": 1, "max_steps": 2, "metric": "perplexity", "batch_size": 1},
    },
    "transformer-lm, rotary, untied, a stride of a whole window": {
        "dataset": {"name": "hamlet"},
        "model": {"name": "transformer-lm", "vocab_size": 3, "d_model": 2, "num_layers": 2, "num_heads": 1,
                  "block_size": 3, "eval_stride": 3, "dropout": 0.0, "positions": "rotary", "tie_weights": False},
        "train": {"epochs": 1, "max_steps": 2, "metric": "loss", "batch_size": 2},
    },
    "cnn-classifier at its smallest, one wide filter": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "cnn-classifier", "vocab_size": 3, "min_frequency": 0, "max_length": 1, "embedding_dim": 1,
                  "filter_sizes": [1, 10000], "num_filters": 1, "dropout": 0.999},
        "train": {"epochs": 1, "max_steps": 2, "metric": "recall_neg"},
    },
    "seqgan at its smallest, relaxed": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "seqgan", "generator": {"name": "lstm-lm", "vocab_size": 3, "embedding_dim": 1, "hidden_size": 1},
                  "pretrain": {"epochs": 1, "max_steps": 1, "batch_size": 1}, "discriminator_steps": 0,
                  "discriminator": {"name": "cnn-classifier", "embedding_dim": 1, "filter_sizes": [1], "num_filters": 1},
                  "max_length": 2, "rollouts": 1, "relaxation": "gumbel", "gumbel_temperature": 1e-9,
                  "mle_weight": 0.0, "generator_lr": 1e-300, "discriminator_lr": 1e-300, "temperature": 0.0,
                  "eval_samples": 0},
        "train": {"epochs": 1, "max_steps": 1, "batch_size": 2, "metric": "d_accuracy", "keep_best": False},
    },
    "seqgan with roll-outs, conditional": {
        "dataset": {"name": "polarity-200"},
        "model": {"name": "seqgan", "conditional": True,
                  "generator": {"name": "transformer-lm", "d_model": 2, "num_layers": 1, "num_heads": 1, "block_size": 5,
                                "min_frequency": 1},
                  "pretrain": {"epochs": 1, "max_steps": 1, "batch_size": 2}, "discriminator_steps": 1,
                  "discriminator": {"name": "cnn-classifier", "embedding_dim": 1, "filter_sizes": [1], "num_filters": 1},
                  "max_length": 2, "rollouts": 3, "mle_weight": 1e6, "temperature": 1e6, "eval_samples": 3},
        "train": {"epochs": 1, "max_steps": 1, "batch_size": 2, "metric": "self_bleu4", "keep_best": False},
    },
    "word2vec at its smallest": {
        "dataset": {"name": "lee"},
        "model": {"name": "word2vec", "vector_size": 1, "window": 1, "min_count": 1, "negative": 100,
                  "sample": 0.0, "epochs": 1, "workers": 1, "analogy_restrict_vocab": 1},
    },
}

EDGE_TRAIN = [
    {"epochs": 0},
    {"epochs": 1, "grad_accum": 1000, "batch_size": 100000},
    {"epochs": 1, "max_steps": 1, "eval_every": 1, "log_every": 10**12, "checkpoint_every": 1, "early_stopping": 1},
    {"epochs": 2, "max_steps": 3, "ema": 1e-9, "clip_grad_norm": 1e-300, "weight_decay": 1e6},
    {"epochs": 1, "max_steps": 2, "ema": 0.999999, "precision": "bf16", "eval_batch_size": 1, "clip_grad_norm": None},
    {"epochs": 1, "max_steps": 2, "augment_mode": "offline", "augment_copies": 3, "keep_best": False},
]

EDGE_OPTIM = [
    {"name": "adam", "lr": 1e-300, "betas": [0.0, 0.0], "eps": 1e-300, "weight_decay": 0.0},
    {"name": "adamw", "lr": 1e6, "betas": [0.999999, 0.999999], "eps": 1e300, "weight_decay": 1e6, "amsgrad": True},
    {"name": "sgd", "lr": 1e-300, "momentum": 0.0, "dampening": 1.0, "weight_decay": 0.0},
    {"name": "sgd", "lr": 1.0, "momentum": 1e6, "nesterov": True},
    {"name": "rmsprop", "alpha": 0.0, "momentum": 0.0, "centered": True},
    {"name": "rmsprop", "alpha": 0.999999, "eps": 1e-300},
    {"name": "adagrad", "lr_decay": 1e300, "initial_accumulator_value": 1e38},
]

EDGE_SCHEDULERS = [
    {"name": "constant", "warmup": 0.0}, {"name": "constant", "warmup": 1e18},
    {"name": "step", "step_size": 1, "gamma": 1e-300}, {"name": "step", "step_size": 10**9, "gamma": 1e300},
    {"name": "exponential", "gamma": 1e-300}, {"name": "cosine", "min_lr": 1e300},
    {"name": "linear-warmup", "warmup": 0.999999}, {"name": "linear-warmup", "warmup": 1.0},
    {"name": "cosine-warmup", "warmup": 0.0, "min_ratio": 1.0},
    {"name": "one-cycle", "pct_start": 1e-9, "div_factor": 1e-300, "final_div_factor": 1e300},
    {"name": "one-cycle", "pct_start": 0.999999, "max_lr": 1e-300, "anneal": "linear"},
    {"name": "inverse-sqrt", "warmup": 0.0}, {"name": "inverse-sqrt", "warmup": 1e18},
    {"name": "reduce-on-plateau", "factor": 1e-300, "patience": 0, "threshold": 0.0, "min_lr": 1e300},
]


def needs(*names: str) -> None:
    registry = get_manager().registry
    missing = [n for n in names if not registry.kinds_of(n)]
    if missing:
        pytest.skip(f"needs the plugins that provide {', '.join(missing)}")


def train_in_process(tmp_path, recipe: dict) -> dict:
    from nlpzoo.cli import cli
    from nlpzoo_training import train_recipe

    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    loaded = load_recipe(path)  # what validate does first ...
    from nlpzoo.recipe import SLOTS

    for slot in SLOTS:  # ... and then: build every slot
        if slot in loaded.specs:
            loaded.build(slot)
    TALLY.cases += 1
    assert cli is not None
    return train_recipe(loaded, tmp_path / "run")


@pytest.mark.parametrize("name", sorted(EDGE_MODELS))
@pytest.mark.slow
def test_models_train_at_the_edges_of_their_ranges(tmp_path, name):
    recipe = {"seed": 2**32 - 1, **EDGE_MODELS[name], "callbacks": []}
    needs({"minilm-l6": "bert-classifier"}.get(recipe["model"]["name"], recipe["model"]["name"]))
    recipe["train"] = {**recipe.get("train", {}), "plots": False, "progress": False}
    metrics = train_in_process(tmp_path, recipe)
    scores = {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}
    assert scores and all(math.isfinite(v) for v in scores.values()), metrics  # trained, then tested


@pytest.mark.parametrize("train", EDGE_TRAIN, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()))
@pytest.mark.slow
def test_the_loop_runs_at_the_edges_of_its_settings(tmp_path, train):
    needs("lstm-classifier")
    recipe = {"seed": 0, "dataset": {"name": "polarity-200"},
              "model": {"name": "lstm-classifier", "embedding_dim": 4, "hidden_size": 4, "max_length": 8},
              "augment": {"name": "random-swap"},
              "train": {**train, "metric": "accuracy", "plots": False, "progress": False}}
    metrics = train_in_process(tmp_path, recipe)
    assert all(math.isfinite(v) or math.isnan(v) for v in metrics.values() if isinstance(v, float))


@pytest.mark.parametrize("spec", EDGE_OPTIM, ids=lambda s: s["name"])
def test_optimizers_step_at_the_edges_of_their_ranges(spec):
    import torch

    from nlpzoo import build

    param = torch.nn.Parameter(torch.ones(4))
    opt = build(spec, "optimizer").create([param])
    for _ in range(3):
        (param ** 2).sum().backward()
        opt.step()
        opt.zero_grad()
    assert torch.isfinite(param).all()  # a value validate accepts never breaks the weights
    TALLY.cases += 1


@pytest.mark.parametrize("spec", EDGE_SCHEDULERS, ids=lambda s: s["name"])
@pytest.mark.parametrize("total_steps", [1, 2, 1000])
def test_schedulers_step_at_the_edges_of_their_ranges(spec, total_steps):
    from nlpzoo import build
    from nlpzoo_training import learning_rate_curve

    lrs = learning_rate_curve(build(spec, "scheduler"), total_steps, 1e-3)
    assert len(lrs) == total_steps
    TALLY.cases += 1
