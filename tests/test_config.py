"""Specs: checked against signatures and annotations before anything is built; nested specs first."""
from __future__ import annotations

import pytest

import nlpzoo
from nlpzoo.config import Resolved
from nlpzoo.errors import ConfigError, UnknownComponent


class Pipeline(nlpzoo.Augmenter):
    """Applies its steps in order."""

    def __init__(self, steps: list[nlpzoo.Augmenter], label: str = "p", p: float = 1.0):
        self.steps, self.label, self.p = steps, label, p

    def augment_one(self, text, rng):
        ops = []
        for step in self.steps:
            text, more = step.augment_one(text, rng)
            ops += more
        return text, ops


class Upper(nlpzoo.Augmenter):
    def __init__(self, times: int = 1, mode: str = "all"):
        self.times, self.mode = times, mode

    def augment_one(self, text, rng):
        return text.upper(), ["upper"]


class Needs(nlpzoo.Augmenter):
    def __init__(self, required: int):
        self.required = required

    def augment_one(self, text, rng):
        return text, []


class Toy:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "pipeline", target=f"{__name__}:Pipeline", summary="Steps in order.")
        register("augmenter", "upper", target=f"{__name__}:Upper", summary="Upper case.")
        register("augmenter", "needs", target=f"{__name__}:Needs", summary="Has a required parameter.")


@pytest.fixture
def toy(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Toy(), "toy")
    return nlpzoo_isolated


def test_a_bare_name_builds_with_defaults(toy):
    upper = nlpzoo.build("upper", "augmenter")
    assert isinstance(upper, Upper) and upper.times == 1


def test_nested_specs_are_built_first(toy):
    pipe = nlpzoo.build({"name": "pipeline", "steps": [{"name": "upper", "times": 2}, "upper"]}, "augmenter")
    assert [type(s) for s in pipe.steps] == [Upper, Upper] and pipe.steps[0].times == 2
    assert pipe.augment(["abc"], seed=0) == ["ABC"]


def test_resolve_reports_the_provider_of_every_node(toy):
    resolved = nlpzoo.resolve({"name": "pipeline", "steps": ["upper"]}, "augmenter")
    assert isinstance(resolved.params["steps"][0], Resolved)
    assert resolved.to_spec() == {"name": "toy:pipeline", "steps": [{"name": "toy:upper"}]}
    assert "upper  (augmenter from toy)" in "\n".join(resolved.tree())


def test_unknown_parameter_suggests_the_nearest(toy):
    with pytest.raises(ConfigError, match=r"^steps\.0\.tims: unknown parameter \(did you mean 'times'\?\)"):
        nlpzoo.resolve({"name": "pipeline", "steps": [{"name": "upper", "tims": 2}]}, "augmenter")


def test_wrong_type_names_the_key_path(toy):
    with pytest.raises(ConfigError, match=r"^steps\.0\.times: expected int, got 'abc'$"):
        nlpzoo.resolve({"name": "pipeline", "steps": [{"name": "upper", "times": "abc"}]}, "augmenter")


def test_yaml_style_exponent_strings_are_floats(toy):
    resolved = nlpzoo.resolve({"name": "pipeline", "steps": [], "p": "1e-3"}, "augmenter")
    assert resolved.params["p"] == pytest.approx(0.001)


def test_missing_required_parameter_is_named(toy):
    with pytest.raises(ConfigError, match="missing required parameter 'required'"):
        nlpzoo.resolve("needs", "augmenter")


def test_unknown_nested_name_lists_close_matches(toy):
    with pytest.raises(UnknownComponent, match=r"steps\.0: unknown augmenter 'uper'; did you mean 'upper'"):
        nlpzoo.resolve({"name": "pipeline", "steps": ["uper"]}, "augmenter")


def test_a_spec_without_a_name_says_what_is_missing(toy):
    with pytest.raises(ConfigError, match="missing 'name'"):
        nlpzoo.resolve({"times": 2}, "augmenter")
