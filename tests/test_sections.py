"""A recipe's sections are read by plugins through ``register_sections``: the training engine reads ``train:``
the way a third party would, and the core checks a section against the dataclass it was given."""
from __future__ import annotations

import dataclasses
from typing import Annotated

import pytest

import nlpzoo
from nlpzoo import ConfigError, Range


@dataclasses.dataclass
class Budget:
    """How much a run may spend."""

    minutes: Annotated[float, Range(gt=0)] = 10.0
    runs: int = 1

    def check(self) -> None:
        if self.runs > 5 and self.minutes > 60:
            raise ConfigError("more than 5 runs of over an hour each", "train.runs")


class _ReadsTrain:
    @nlpzoo.hookimpl
    def register_sections(self, register):
        register("train", Budget)


class _Models:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("classifier", "tiny-text", target="training_tasks:TinyTextModel", summary="Test model.")
        register("dataset", "nothing", target="test_sections:_NoData", summary="Test data.")


class _NoData(nlpzoo.Dataset):
    def load(self):
        return {"train": [], "validation": [], "test": []}


def _recipe(tmp_path, train: str):
    path = tmp_path / "r.yaml"
    path.write_text(f"dataset: {{name: nothing}}\nmodel: {{name: tiny-text}}\ntrain: {train}\n")
    return path


def test_the_training_engine_reads_the_train_section(nlpzoo_isolated, tmp_path):
    nlpzoo_isolated.add_plugin(_Models(), "models")
    recipe = nlpzoo.load_recipe(_recipe(tmp_path, "{epochs: 2, batch_size: 8}"))
    assert recipe.train == {"epochs": 2, "batch_size": 8}
    with pytest.raises(ConfigError, match=r"r.yaml:3: train.epochs: .*did you mean 'epochs'|epochz") as caught:
        nlpzoo.load_recipe(_recipe(tmp_path, "{epochz: 2}"))
    assert "epochs" in str(caught.value)


def test_a_train_section_no_plugin_reads_is_refused_with_where_to_look(tmp_path):
    from nlpzoo import plugins
    from nlpzoo.plugins import get_manager

    previous = plugins.reset(plugins.PluginManager())
    try:
        get_manager().add_plugin(_Models(), "models")
        with pytest.raises(ConfigError, match="no installed plugin reads the train: section.*nlpzoo plugins"):
            nlpzoo.load_recipe(_recipe(tmp_path, "{epochs: 2}"))
    finally:
        plugins.reset(previous)


def test_a_section_is_checked_by_its_dataclass_and_the_first_plugin_keeps_it(nlpzoo_isolated, tmp_path):
    nlpzoo_isolated.sections.clear()  # this test's plugin reads train: instead of the engine
    nlpzoo_isolated.add_plugin(_ReadsTrain(), "budget")
    nlpzoo_isolated.add_plugin(_ReadsTrain(), "late")
    assert nlpzoo_isolated.sections["train"] == (Budget, "budget")
    assert any("read by plugin budget already" in w for w in nlpzoo_isolated.health["late"].warnings)
    nlpzoo_isolated.add_plugin(_Models(), "models")
    with pytest.raises(ConfigError, match=r"r.yaml:3: train.minutes: expected minutes > 0, got -1"):
        nlpzoo.load_recipe(_recipe(tmp_path, "{minutes: -1}"))
    with pytest.raises(ConfigError, match="more than 5 runs"):
        nlpzoo.load_recipe(_recipe(tmp_path, "{minutes: 90, runs: 6}"))


def test_a_section_that_is_not_a_dataclass_fails_the_plugin_not_nlpzoo(nlpzoo_isolated):
    class _Wrong:
        @nlpzoo.hookimpl
        def register_sections(self, register):
            register("train", dict)

    nlpzoo_isolated.add_plugin(_Wrong(), "wrong")
    row = nlpzoo_isolated.health["wrong"]
    assert row.status != "ok" and "a section name and a dataclass" in row.error


def test_info_lists_a_sections_settings(cli):
    out = cli("info", "train").stdout
    assert "the train: section of a recipe, read by plugin training" in out
    assert "epochs: int" in out and "batch_size" in out


def test_a_recipe_carries_its_checked_train_settings_and_a_change_made_later_is_checked_again(
        nlpzoo_isolated, tmp_path, monkeypatch):
    from nlpzoo_training import TrainConfig
    from nlpzoo_training.runner import recipe_config

    nlpzoo_isolated.add_plugin(_Models(), "models")
    checks = []
    monkeypatch.setattr(TrainConfig, "check", lambda self: checks.append(self.epochs))
    recipe = nlpzoo.load_recipe(_recipe(tmp_path, "{epochs: 2}"))
    assert recipe.settings["train"] == TrainConfig(epochs=2) and checks == [2]  # once, when the recipe was read
    assert recipe_config(recipe) is recipe.settings["train"] and checks == [2]  # carried to the run, not rechecked
    recipe.train["epochs"] = 3
    assert recipe_config(recipe) == TrainConfig(epochs=3) and checks == [2, 3]  # changed in code: checked again


class _ReadsBudget:
    @nlpzoo.hookimpl
    def register_sections(self, register):
        register("budget", Budget)


def test_a_plugin_adds_a_section_of_its_own_that_recipes_may_then_use(nlpzoo_isolated, tmp_path):
    nlpzoo_isolated.add_plugin(_Models(), "models")
    nlpzoo_isolated.add_plugin(_ReadsBudget(), "budget")
    path = _recipe(tmp_path, "{epochs: 1}")
    path.write_text(path.read_text() + "budget: {minutes: 5}\n")
    recipe = nlpzoo.load_recipe(path)
    assert recipe.settings["budget"] == Budget(minutes=5.0) and recipe.train == {"epochs": 1}
    path.write_text(path.read_text().replace("budget:", "budgte:"))
    with pytest.raises(ConfigError, match=r"r.yaml:4: budgte: unknown recipe key \(did you mean 'budget'\?\)"):
        nlpzoo.load_recipe(path)
