"""Optimizers and schedulers: real torch.optim objects, built by name, with the curves they promise."""
from __future__ import annotations

import math

import pytest

import nlpzoo
from nlpzoo.plugins import get_manager
from nlpzoo_testing import check_component
from nlpzoo_training import learning_rate_curve

OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop", "adagrad"]
SCHEDULERS = ["constant", "step", "exponential", "cosine", "linear-warmup", "cosine-warmup", "one-cycle",
              "inverse-sqrt", "reduce-on-plateau"]


def test_the_plugin_registers_every_optimizer_and_scheduler():
    registry = get_manager().registry
    assert set(OPTIMIZERS) <= set(registry.names("optimizer"))
    assert set(SCHEDULERS) <= set(registry.names("scheduler"))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_meets_the_contract(name):
    check_component("optimizer", name)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_meets_the_contract(name):
    check_component("scheduler", name)


def test_optimizers_are_torch_optimizers_with_fused_adamw():
    import torch

    w = torch.nn.Parameter(torch.ones(3))
    opt = nlpzoo.build({"name": "adamw", "lr": 0.01, "weight_decay": 0.1}, "optimizer").create([w])
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["fused"] is True
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 0.1
    sgd = nlpzoo.build({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, "optimizer").create([w])
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] is True


def test_linear_warmup_rises_then_falls_to_zero():
    lrs = learning_rate_curve(nlpzoo.build({"name": "linear-warmup", "warmup": 0.1}, "scheduler"), 100, base_lr=1.0)
    assert lrs[9] == pytest.approx(1.0) and lrs[0] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(1 / 90)


def test_warmup_given_in_steps_or_as_a_fraction():
    as_steps = learning_rate_curve(nlpzoo.build({"name": "cosine-warmup", "warmup": 20}, "scheduler"), 200)
    as_fraction = learning_rate_curve(nlpzoo.build({"name": "cosine-warmup", "warmup": 0.1}, "scheduler"), 200)
    assert as_steps == pytest.approx(as_fraction)
    assert max(as_steps) == pytest.approx(1.0) and as_steps[-1] < 1e-3


def test_cosine_reaches_min_lr_and_step_halves():
    cos = learning_rate_curve(nlpzoo.build({"name": "cosine", "min_lr": 0.1}, "scheduler"), 50)
    assert cos[0] == 1.0 and min(cos) >= 0.1 - 1e-9 and cos[-1] < 0.11
    step = learning_rate_curve(nlpzoo.build({"name": "step", "step_size": 10, "gamma": 0.5}, "scheduler"), 30)
    assert (step[0], step[10], step[20]) == (1.0, 0.5, 0.25)


def test_inverse_sqrt_decays_as_promised():
    lrs = learning_rate_curve(nlpzoo.build({"name": "inverse-sqrt", "warmup": 10}, "scheduler"), 100)
    assert lrs[9] == pytest.approx(1.0) and lrs[39] == pytest.approx(math.sqrt(10 / 40))


def test_one_cycle_peaks_at_max_lr():
    lrs = learning_rate_curve(nlpzoo.build({"name": "one-cycle", "max_lr": 0.5, "pct_start": 0.3}, "scheduler"), 100, base_lr=0.5)
    assert max(lrs) == pytest.approx(0.5) and lrs.index(max(lrs)) in range(28, 32) and lrs[-1] < 1e-3


def test_reduce_on_plateau_is_driven_by_the_metric():
    sched = nlpzoo.build({"name": "reduce-on-plateau", "patience": 1, "factor": 0.5}, "scheduler")
    assert sched.steps_on == "metric"
    lrs = learning_rate_curve(sched, 6)  # a flat metric: cut every (patience + 1) evaluations
    assert lrs[0] == 1.0 and lrs[-1] < 1.0


def test_bad_parameters_are_caught_before_torch_runs():
    with pytest.raises(nlpzoo.ConfigError, match="gamma: expected float, got 'half'"):
        nlpzoo.resolve({"name": "step", "gamma": "half"}, "scheduler")
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        nlpzoo.build({"name": "sgd", "momentum": 0.0, "nesterov": True}, "optimizer")
    # RMSprop's running mean never moves at alpha 1: each step would divide by eps alone
    with pytest.raises(nlpzoo.ConfigError, match="alpha: expected 0 <= alpha < 1, got 1"):
        nlpzoo.build({"name": "rmsprop", "alpha": 1.0}, "optimizer")
