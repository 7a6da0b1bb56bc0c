"""The docs stay true: every hook is documented, every Python snippet runs (the tutorials' in order, in test_tutorials.py)."""
from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nlpzoo import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
HOOKS = [name for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and hasattr(fn, "nlpzoo_spec")]


def test_hookspecs_are_found():
    assert set(HOOKS) == {"register_components", "register_presets", "register_sections", "register_commands",
                          "model_saved", "run_finished"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_heading_with_its_signature(hook):
    text = (DOCS / "reference" / "hooks.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"## {hook}({params})" in text, f"docs/reference/hooks.md lacks '## {hook}({params})'"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


# Tutorials marked "tested in order" run block by block, with their commands, in tests/test_tutorials.py.
DOC_FILES = sorted(p for p in DOCS.rglob("*.md")
                   if _python_blocks(p) and "<!-- tested in order: tests/test_tutorials.py -->" not in p.read_text())


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(DOCS)))
@pytest.mark.slow
def test_python_snippets_run(path, tmp_path):
    code = "\n\n".join(_python_blocks(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, f"{path.name}:\n{done.stderr[-3000:]}"
