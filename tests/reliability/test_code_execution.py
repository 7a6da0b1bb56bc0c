"""Code-execution paths: user text, catalogues and the working directory never run code or reach pip.

Each case plants code that leaves a marker file when it runs (a plugin folder, a module named by a
catalogue, a module in the working directory), then runs the real command the way an attacker would
arrange it. The marker must not appear; a positive control shows the planted code does run when it
is asked for in the documented way.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reliability_support import TALLY, nlpzoo, one_line_error, write

FAMILY = "code-execution paths"


def plugin_folder(root: Path) -> Path:
    """A plugin project that writes ``ran`` beside itself when it is loaded."""
    folder = root / "evil"
    folder.mkdir()
    write(folder / "pyproject.toml", '[project]\nname = "evil"\nversion = "0"\n'
                                     '[project.entry-points.nlpzoo]\nevil = "evilplugin"\n')
    write(folder / "evilplugin.py", f"open({str(folder / 'ran')!r}, 'w').write('ran')\n")
    return folder


#: where user text may carry ``--plugins-dir``: a prompt, text after ``--``, a --set value, augment's input
PLACEMENTS = {
    "generate-prompt-equals": lambda run, d: ["generate", run, "--prompt", f"--plugins-dir={d}"],
    "generate-prompt-words": lambda run, d: ["generate", run, "--prompt", f"say --plugins-dir {d}"],
    "predict-after-dashdash": lambda run, d: ["predict", run, "--", "--plugins-dir", d],
    "predict-text-equals": lambda run, d: ["predict", run, f"--plugins-dir={d}"],
    "validate-set-value": lambda run, d: ["validate", "recipe.yaml", "--set", f"description=--plugins-dir={d}"],
    "augment-after-dashdash": lambda run, d: ["augment", "random-swap", "--", "--plugins-dir", d],
    "runs-after-dashdash": lambda run, d: ["runs", "--", "--plugins-dir", d],
}


@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
@pytest.mark.slow
def test_plugins_dir_is_read_only_where_click_reads_global_options(finished_run, tmp_path, placement):
    folder = plugin_folder(tmp_path)
    write(tmp_path / "recipe.yaml", "dataset: polarity-200\nmodel: {name: lstm-classifier, hidden_size: 8}\n")
    args = PLACEMENTS[placement](str(finished_run), str(folder))
    done = nlpzoo(*args, cwd=tmp_path, input="a fine film\n", timeout=120)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not (folder / "ran").exists(), f"{placement}: the plugin in {folder} ran"


def test_plugins_dir_before_the_command_still_loads_the_plugin(tmp_path):
    folder = plugin_folder(tmp_path)
    done = nlpzoo("--plugins-dir", str(folder), "list", "nothing-*", cwd=tmp_path)
    TALLY.cases += 1
    assert done.returncode == 0, done.stderr
    assert (folder / "ran").read_text() == "ran"  # the control: the documented form does load it


# ---------------------------------------------------------------- catalogues


def planted_module(root: Path, name: str) -> Path:
    """``name`` (dotted) as a package on PYTHONPATH whose every level writes a marker when imported."""
    folder = root / "site"
    marker = root / "imported"
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        package = folder.joinpath(*parts[:depth])
        package.mkdir(parents=True, exist_ok=True)
        write(package / "__init__.py", f"open({str(marker)!r}, 'a').write({'.'.join(parts[:depth])!r} + '\\n')\n")
    return folder


MODULES = ["planted.x", "planted.sub.x", "planted", "planted.sub"]


@pytest.mark.parametrize("module, command", list(itertools.product(MODULES, ["assets", "list"])))
def test_locating_an_asset_imports_nothing(tmp_path, module, command):
    site = planted_module(tmp_path, module)
    overlay = write(tmp_path / "overlay.yaml", f"assets:\n  planted-asset:\n    requirement: planted==1.0\n"
                                               f"    module: {module}\n    license: MIT\n")
    args = ["--catalog", str(overlay), command] + (["--no-verify"] if command == "assets" else [])
    done = nlpzoo(*args, cwd=tmp_path, env={"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])})
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "imported").exists(), (tmp_path / "imported").read_text()
    if command == "assets":  # found where it lies, without running it
        row = next(line for line in done.stdout.splitlines() if line.startswith("planted-asset"))
        assert row.split()[-1] == "installed", row


REQUIREMENTS = ["-r /etc/hostname", "-e .", "--index-url=http://example.invalid/ x", "planted>=1.0",
                "planted @ file:///tmp/x", "planted==1.0; python_version > '3'", "planted==1.0 --pre",
                "planted[extra]==1.0", "planted", "./planted-1.0.tar.gz", "planted==1.0\n-r /etc/passwd"]


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_an_asset_requirement_is_a_plain_name_and_version(tmp_path, requirement):
    import json

    overlay = write(tmp_path / "overlay.yaml", "assets:\n  planted-asset:\n"
                                               f"    requirement: {json.dumps(requirement)}\n"
                                               "    module: planted\n    license: MIT\n")
    line = one_line_error(nlpzoo("--catalog", str(overlay), "list", cwd=tmp_path))
    TALLY.count(FAMILY)
    assert f"{overlay}:3: " in line and "assets.planted-asset.requirement" in line and "name==version" in line, line


def test_a_plain_requirement_is_accepted(tmp_path):
    overlay = write(tmp_path / "overlay.yaml", "assets:\n  planted-asset:\n    requirement: planted-data==1.0.post2\n"
                                               "    module: planted_data\n    license: MIT\n")
    done = nlpzoo("--catalog", str(overlay), "list", cwd=tmp_path)
    TALLY.cases += 1
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- the working directory


@pytest.mark.parametrize("shadow", ["yaml", "click", "pluggy", "json", "planted"])
def test_python_m_nlpzoo_cli_imports_nothing_from_the_working_directory(tmp_path, shadow):
    marker = tmp_path / "imported"
    write(tmp_path / f"{shadow}.py", f"open({str(marker)!r}, 'w').write('{shadow}')\nraise SystemExit(3)\n")
    write(tmp_path / "overlay.yaml", "assets:\n  planted-asset:\n    requirement: planted==1.0\n"
                                     "    module: planted.x\n    license: MIT\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "--catalog", "overlay.yaml", "assets", "--no-verify"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert not marker.exists(), f"{shadow}.py in the working directory ran"
    assert done.returncode == 0, done.stderr[-2000:]
