"""registry.yaml: well-formed, and in agreement with what the installed plugins register."""
from __future__ import annotations

import textwrap

import pytest

import nlpzoo
from nlpzoo.catalog import Catalog, default_path
from nlpzoo.errors import AssetError, ConfigError
from nlpzoo.plugins import get_catalog, get_manager, reset_catalog


def test_every_first_party_plugin_provides_exactly_what_the_catalogue_says():
    cat = Catalog()
    cat.merge_file(default_path())
    manager = get_manager()
    first_party = {n for n, h in manager.health.items() if h.distribution == "nlpzoo"}
    assert first_party <= set(cat.plugins), f"plugins missing from registry.yaml: {first_party - set(cat.plugins)}"
    for plugin in first_party:
        registered = {}
        for e in manager.registry.all():
            if e.provider == plugin:
                registered.setdefault(e.kind, set()).add(e.name)
        listed = {k: set(v) for k, v in cat.plugins[plugin]["provides"].items()}
        assert registered == listed, f"plugin {plugin!r}: registers {registered}, registry.yaml lists {listed}"


def test_every_preset_resolves_against_the_registered_components():
    for name, preset in get_catalog().presets.items():
        resolved = nlpzoo.resolve(name, preset.kind)
        assert resolved.name == preset.component and resolved.preset == name


def test_every_asset_is_installed_and_matches_its_sha256():
    for asset in get_catalog().assets.values():
        assert asset.verify() == [], asset.name


def test_a_malformed_entry_names_the_file_line_and_key(tmp_path):
    bad = tmp_path / "cat.yaml"
    bad.write_text(textwrap.dedent("""\
        presets:
          fast-swap:
            kind: augmentor
            component: random-swap
        """))
    with pytest.raises(ConfigError) as err:
        Catalog().merge_file(bad)
    assert str(err.value).startswith(f"{bad}:3: presets.fast-swap.kind: expected a kind among")
    assert "did you mean 'augmenter'" in str(err.value)


def test_an_asset_file_with_nothing_after_its_colon_is_read_as_an_empty_entry(tmp_path):
    catalogue = tmp_path / "cat.yaml"
    catalogue.write_text("assets:\n  mine:\n    requirement: mine==1.0\n    module: mine\n    files:\n      data.bin:\n")
    merged = Catalog()
    merged.merge_file(catalogue)
    assert merged.assets["mine"].files == {"data.bin": {}}


def test_an_unknown_section_is_refused(tmp_path):
    bad = tmp_path / "cat.yaml"
    bad.write_text("preset: {}\n")
    with pytest.raises(ConfigError, match=r"cat.yaml:1: preset: unknown section \(did you mean 'presets'"):
        Catalog().merge_file(bad)


class Weighted(nlpzoo.Augmenter):
    def __init__(self, pretrained: str = ""):
        self.pretrained = pretrained

    def augment_one(self, text, rng):
        return text, []


class WeightedPlugin:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "weighted", target=f"{__name__}:Weighted", summary="Needs weights.")


@pytest.fixture
def weights_overlay(tmp_path, nlpzoo_isolated, monkeypatch):
    nlpzoo_isolated.add_plugin(WeightedPlugin(), "weighted")
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"real weights")
    import hashlib

    good = hashlib.sha256(b"real weights").hexdigest()

    def overlay(sha: str):
        path = tmp_path / f"overlay-{sha[:6]}.yaml"
        path.write_text(textwrap.dedent(f"""\
            presets:
              my-weights:
                kind: augmenter
                component: weighted
                weights: {{param: pretrained, source: "path:{folder}", file: w.bin, sha256: "{sha}"}}
            """))
        monkeypatch.setenv("NLPZOO_CATALOG", str(path))
        reset_catalog()

    overlay.good = good
    return overlay


def test_a_user_overlay_adds_presets_and_their_weights_are_checked(weights_overlay):
    weights_overlay(weights_overlay.good)
    built = nlpzoo.build("my-weights", "augmenter")
    assert built.pretrained.endswith("weights")


def test_weights_whose_sha256_differs_are_refused(weights_overlay):
    weights_overlay("0" * 64)
    with pytest.raises(AssetError, match="does not match the catalogue's"):
        nlpzoo.build("my-weights", "augmenter")


def test_every_preset_arrives_through_a_plugins_hook_and_each_pretrained_file_is_listed_once():
    cat = Catalog()
    cat.merge_file(default_path())
    assert cat.presets == {}  # registry.yaml names weights; the plugins that build them register the presets
    presets = get_catalog().presets
    assert {p.source for p in presets.values()} == {"plugin bert", "plugin word2vec"}
    assert {p.weights["use"] for p in presets.values()} == set(cat.weights) == {"minilm-l6", "smollm2-135m", "glove-6b-50d"}
    assert presets["minilm-l6-tagger"].weights == {"param": "pretrained", "use": "minilm-l6", **cat.weights["minilm-l6"]}


class UsesWeights:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "weighted", target=f"{__name__}:Weighted", summary="Needs weights.")

    @nlpzoo.hookimpl
    def register_presets(self, register):
        register("uses-them", kind="augmenter", component="weighted", weights={"param": "pretrained", "use": "mine"})
        register("uses-a-typo", kind="augmenter", component="weighted", weights={"param": "pretrained", "use": "mien"})


def test_a_user_catalogue_names_weights_once_and_a_plugins_preset_uses_them(tmp_path, nlpzoo_isolated, monkeypatch):
    import hashlib

    (tmp_path / "w.bin").write_bytes(b"real weights")
    catalogue = tmp_path / "mine.yaml"
    catalogue.write_text(f"weights:\n  mine: {{source: 'path:{tmp_path}', file: w.bin, "
                         f"sha256: {hashlib.sha256(b'real weights').hexdigest()}}}\n")
    monkeypatch.setenv("NLPZOO_CATALOG", str(catalogue))
    nlpzoo_isolated.add_plugin(UsesWeights(), "uses")
    assert nlpzoo.build("uses-them", "augmenter").pretrained == str(tmp_path)
    assert "uses-a-typo" not in get_catalog().presets  # dropped, and said where: one plugin cannot break the catalogue
    assert any("presets.uses-a-typo.weights.use: no weights 'mien' in the catalogue (did you mean 'mine'?)" in w
               for w in nlpzoo_isolated.health["uses"].warnings)


def test_a_catalogue_file_preset_that_uses_unknown_weights_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / "cat.yaml"
    bad.write_text("presets:\n  p: {kind: augmenter, component: weighted, weights: {param: w, use: nope}}\n")
    cat = Catalog()
    cat.merge_file(bad)
    with pytest.raises(ConfigError, match=r"cat.yaml: presets.p.weights.use: no weights 'nope' in the catalogue"):
        cat.link_weights()
