"""Catalogue files: any mutation of the shipped registry.yaml merges, or is refused at its file and line."""
from __future__ import annotations

import os
import random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nlpzoo.catalog import Catalog, default_path
from nlpzoo.errors import ConfigError
from reliability_support import examples, refused_cleanly
from test_recipe_fuzz import dump, key_paths, mutate, random_value

SHIPPED = yaml.safe_load(default_path().read_text(encoding="utf-8"))


def shipped_presets() -> dict:
    """The presets nlpzoo's plugins register, written out as a catalogue file would hold them."""
    from nlpzoo.plugins import get_catalog

    return {name: {"kind": p.kind, "component": p.component, "params": dict(p.params), "summary": p.summary,
                   "tags": list(p.tags), "weights": {k: v for k, v in (p.weights or {}).items() if k != "use"}}
            for name, p in get_catalog().presets.items()}


@settings(max_examples=examples(120))
@given(st.integers(0, 2**32))
@pytest.mark.slow
def test_mutated_catalogues_merge_or_fail_at_their_file(tmp_path_factory, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("catalogues", numbered=True)
    for i in range(8):
        data = mutate(SHIPPED, rng) if rng.random() < 0.8 else \
            {rng.choice(["weights", "presets", "assets", "plugins", "prefer", "x"]): random_value(rng)}
        path = folder / f"c{i}.yaml"
        path.write_text(dump(data))
        merged, error = refused_cleanly(Catalog().merge_file, path)
        if error is not None:
            assert isinstance(error, ConfigError) and error.file == str(path), error


@settings(max_examples=examples(60))
@given(st.integers(0, 2**32))
def test_presets_from_a_mutated_catalogue_resolve_or_fail_in_one_line(tmp_path_factory, seed):
    """A preset that merged must also resolve (or be refused at its key) when a recipe names it."""
    from nlpzoo.config import resolve

    rng = random.Random(seed)
    presets = shipped_presets()
    name = rng.choice(sorted(presets))
    folder = tmp_path_factory.mktemp("presets", numbered=True)
    for i in range(4):
        body = mutate({"presets": {name: presets[name]}}, rng)
        if not any(p[0] == "presets" for p in key_paths(body)):
            continue
        cat = Catalog()
        path = folder / f"p{i}.yaml"
        path.write_text(dump(body))
        merged, error = refused_cleanly(cat.merge_file, path)
        if error is not None or name not in cat.presets:
            continue
        from nlpzoo.plugins import reset_catalog

        previous = os.environ.get("NLPZOO_CATALOG")
        os.environ["NLPZOO_CATALOG"] = str(path)  # the mutated catalogue over the shipped one, as a user's would be
        reset_catalog()
        try:
            refused_cleanly(resolve, {"name": name}, cat.presets[name].kind, "model")
        finally:
            if previous is None:
                os.environ.pop("NLPZOO_CATALOG")
            else:
                os.environ["NLPZOO_CATALOG"] = previous
            reset_catalog()
