"""Learning rates that would train backwards or blow up are refused, by the loop and by ``nlpzoo schedule``."""
from __future__ import annotations

import pytest

import nlpzoo
from nlpzoo import ConfigError, Scheduler
from nlpzoo.errors import PluginError

torch = pytest.importorskip("torch")

from nlpzoo_training import Run, learning_rate_curve  # noqa: E402
from training_tasks import Linear  # noqa: E402

QUICK = {"epochs": 2, "batch_size": 8, "progress": False, "plots": False}


class FallsBelowZero(Scheduler):
    """A linear decay that overshoots its end: 0.003, 0.001, -0.001, ..."""

    def create(self, optimizer, total_steps):
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / 3)


class ReturnsAFloat(Scheduler):
    def create(self, optimizer, total_steps):
        return 0.5


def test_a_schedule_that_goes_negative_stops_training_at_the_step_it_does(tmp_path):
    run = Run.standalone(tmp_path, train=QUICK, optimizer={"name": "sgd", "lr": 0.003}, scheduler=FallsBelowZero())
    with pytest.raises(ConfigError, match=r"FallsBelowZero gives a learning rate of -0\.001 at step 4"):
        run.fit(Linear())


def test_nlpzoo_schedule_refuses_the_same_curve():
    with pytest.raises(ConfigError, match="must be a finite number >= 0"):
        learning_rate_curve(FallsBelowZero(), 10, base_lr=0.003)


def test_a_scheduler_whose_create_returns_a_float_gets_the_contract_not_an_attribute_error(tmp_path):
    run = Run.standalone(tmp_path, train=QUICK, scheduler=ReturnsAFloat())
    with pytest.raises(PluginError, match=r"create returned a float, not a torch scheduler: .*must return an object with step\(\)"):
        run.fit(Linear())
    with pytest.raises(PluginError, match="returned a float"):
        learning_rate_curve(ReturnsAFloat(), 5)


def test_built_in_schedules_that_decay_to_zero_pass_the_check():
    for spec in ({"name": "linear-warmup", "warmup": 0.1}, {"name": "cosine", "min_lr": 0.0}, "inverse-sqrt"):
        assert min(learning_rate_curve(nlpzoo.build(spec, "scheduler"), 50, base_lr=0.1)) >= 0
