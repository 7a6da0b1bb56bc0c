"""Third-party plugins installed with pip, for real: usable by name, and a broken one harms nobody."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

EXAMPLE = "docs/examples/nlpzoo-example-plugin"
BROKEN = "tests/plugins/nlpzoo-broken-plugin"


def _pip(*args: str, cwd) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]


@pytest.fixture(scope="module")
def installed(request):
    """pip-install the example plugin and the broken one; uninstall them afterwards."""
    root = request.config.rootpath
    # --no-build-isolation: build with the hatchling already installed, no download needed.
    _pip("install", "--no-deps", "--no-build-isolation", "--quiet", EXAMPLE, BROKEN, cwd=root)
    yield root
    _pip("uninstall", "--yes", "--quiet", "nlpzoo-example-plugin", "nlpzoo-broken-plugin", cwd=root)


@pytest.mark.slow
def test_the_example_plugin_shows_up_in_list(installed, cli):
    out = cli("list", "--tag", "example").stdout
    assert "shout " in out and "triangle " in out and "example " in out
    assert "shout-all" in out  # a preset contributed through the register_presets hook


@pytest.mark.slow
def test_its_components_work_by_name_from_the_cli(installed, cli):
    done = cli("augment", "{name: shout, rate: 1.0}", "--explain", input="quiet words here\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\t")[0] == "QUIET WORDS HERE"


@pytest.mark.slow
def test_its_components_mix_with_first_party_ones_in_a_recipe(installed, cli, tmp_path):
    recipe = tmp_path / "mixed.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 0
        dataset: {name: polarity-200, seed: 0}
        model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
        augment: {name: shout, rate: 0.2}
        optimizer: {name: adamw, lr: 3e-3}
        scheduler: {name: example:triangle, period: 10}
        train: {epochs: 1, batch_size: 16, progress: false}
        """))
    done = cli("validate", str(recipe))
    assert done.returncode == 0, done.stderr
    assert "scheduler: triangle  (scheduler from example)" in done.stdout
    run = tmp_path / "run"
    done = cli("train", str(recipe), "--run-dir", str(run))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "model").is_dir() and "test_accuracy" in done.stdout


@pytest.mark.slow
def test_a_broken_plugin_is_explained_and_the_rest_still_work(installed, cli):
    done = cli("plugins")
    assert done.returncode == 0
    out = done.stdout
    assert "broken-import" in out and "No module named 'nlpzoo_library_that_does_not_exist'" in out
    assert "fix: pip install 'nlpzoo-broken-plugin[fancy]'" in out
    assert "RuntimeError: registration exploded" in out
    assert "2 plugin(s) failed: broken-import, broken-register; the others work." in out
    listing = cli("list")
    assert listing.returncode == 0 and "adamw" in listing.stdout and "shout" in listing.stdout
    assert "half-registered" not in listing.stdout


@pytest.mark.slow
def test_strict_mode_refuses_to_run_with_a_broken_plugin(installed, cli):
    done = cli("list", env={"NLPZOO_STRICT": "1"})
    assert done.returncode == 1
    assert done.stderr.startswith("nlpzoo: error: plugin 'broken-import' failed") and "Traceback" not in done.stderr


@pytest.mark.slow
def test_nlpzoo_plugins_can_skip_the_broken_ones(installed, cli):
    out = cli("plugins", env={"NLPZOO_PLUGINS": "optim,example"}).stdout
    assert "failed" not in out and "disabled" in out


@pytest.mark.slow
def test_a_name_from_a_failed_plugin_says_why(installed, cli, tmp_path):
    overlay = tmp_path / "known.yaml"
    overlay.write_text("plugins:\n  broken-import:\n    install: pip install nlpzoo-broken-plugin\n    provides: {augmenter: [fancy-swap]}\n")
    done = cli("--catalog", str(overlay), "augment", "fancy-swap", input="x\n")
    assert done.returncode == 1
    assert "augmenter 'fancy-swap' comes from plugin 'broken-import', which failed to load" in done.stderr


@pytest.mark.slow
def test_the_plugin_authors_own_suite_passes_with_the_conformance_kit(installed):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{EXAMPLE}/tests"],
                          capture_output=True, text=True, cwd=installed, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "4 passed" in done.stdout
