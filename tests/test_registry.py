"""Names: provider:name always works, clashes are errors naming both, unknown names suggest close ones."""
import pytest

import nlpzoo
from nlpzoo.errors import AmbiguousName, UnknownComponent


class Letters:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "swap-letters", target=f"{__name__}:SwapLetters", summary="Swaps letters.")
        register("scheduler", "flat", target="nlpzoo_optim.schedulers:Constant", summary="Flat.", aliases=("const",))


class OtherLetters:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "swap-letters", target=f"{__name__}:SwapLetters", summary="Also swaps letters.")


class SwapLetters(nlpzoo.Augmenter):
    def __init__(self, rate: float = 0.1):
        self.rate = rate

    def augment_one(self, text, rng):
        return text[::-1], ["reverse"]


def test_a_bare_name_resolves_when_one_provider_has_it(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    entry = nlpzoo_isolated.registry.get("augmenter", "swap-letters")
    assert (entry.provider, entry.target) == ("letters", f"{__name__}:SwapLetters")


def test_aliases_resolve_to_the_registered_name(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    assert nlpzoo_isolated.registry.get("scheduler", "const").name == "flat"


def test_a_clash_names_both_providers_and_says_how_to_choose(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    nlpzoo_isolated.add_plugin(OtherLetters(), "other")
    with pytest.raises(AmbiguousName) as err:
        nlpzoo_isolated.registry.get("augmenter", "swap-letters")
    message = str(err.value)
    assert "letters:swap-letters" in message and "other:swap-letters" in message and "prefer" in message
    assert nlpzoo_isolated.registry.get("augmenter", "other:swap-letters").provider == "other"


def test_prefer_settles_a_clash(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    nlpzoo_isolated.add_plugin(OtherLetters(), "other")
    nlpzoo_isolated.registry.prefer[("augmenter", "swap-letters")] = "other"
    assert nlpzoo_isolated.registry.get("augmenter", "swap-letters").provider == "other"


def test_unknown_names_suggest_close_matches_and_other_kinds(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    with pytest.raises(UnknownComponent, match="did you mean 'swap-letters'"):
        nlpzoo_isolated.registry.get("augmenter", "swap-leters")
    with pytest.raises(UnknownComponent, match="'flat' is a scheduler, not an augmenter"):
        nlpzoo_isolated.registry.get("augmenter", "flat")


def test_unknown_component_is_a_key_error_for_callers_that_expect_one(nlpzoo_isolated):
    with pytest.raises(KeyError):
        nlpzoo_isolated.registry.get("optimizer", "nope")


def test_find_matches_shell_wildcards_and_tags(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(Letters(), "letters")
    assert [e.name for e in nlpzoo_isolated.registry.find("swap-*")] == ["swap-letters"]
    assert [e.name for e in nlpzoo_isolated.registry.find("letters:*", kind="scheduler")] == ["flat"]
