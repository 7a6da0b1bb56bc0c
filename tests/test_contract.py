"""Every registered component honours its kind's contract, with its default parameters."""
from __future__ import annotations


import pytest

from nlpzoo.config import signature_of
from nlpzoo.plugins import get_manager
from nlpzoo_testing import CONTRACTS, check_component, check_entry

ENTRIES = get_manager().registry.all()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.kind}:{e.name}")
def test_registration_metadata_is_complete(entry):
    check_entry(entry)


def _buildable_with_defaults(entry) -> bool:
    params = signature_of(entry.load()).parameters.values()
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


CHEAP = [e for e in ENTRIES if e.kind in CONTRACTS and e.kind != "embedder" and _buildable_with_defaults(e)]


# components whose defaults alone cannot build them, with the parameters that do; a new one fails below until listed
NEEDS = {"augmenter:embedding-neighbors": {"embedder": "minilm-l6-embedder"}}


@pytest.mark.parametrize("entry", CHEAP, ids=lambda e: f"{e.kind}:{e.name}")
def test_component_contract_with_default_parameters(entry):
    check_component(entry.kind, entry.qualified_name, NEEDS.get(f"{entry.kind}:{entry.name}"))


def test_every_kind_has_at_least_one_first_party_component():
    kinds = {e.kind for e in ENTRIES if e.distribution == "nlpzoo"}
    assert {"embedder", "language_model", "gan", "augmenter", "scheduler", "optimizer", "dataset"} <= kinds
