"""``nlpzoo new-plugin NAME``: a plugin package that installs, registers one component and passes its own tests.

The files are the templates in ``templates/``, filled with ``str.format``: ``{name}`` (as in
``nlpzoo-{name}``), ``{package}`` (``nlpzoo_{name}`` with underscores), ``{kind}``, ``{component}``,
``{cls}``, ``{summary}``, ``{underscored}`` and ``{params}``; ``{{`` and ``}}`` are literal braces. Each
kind has its component in ``templates/components/KIND.py.tmpl``.
"""
from __future__ import annotations

import re
from pathlib import Path

import nlpzoo

TEMPLATES = Path(__file__).parent / "templates"

#: each kind's component summary and the parameters its conformance test builds it with
KINDS = {
    "augmenter": ("Repeats a share of the words.", '{"rate": 0.5}'),
    "scheduler": ("Linear warm-up, then inverse square root decay.", '{"warmup": 0.1}'),
    "classifier": ("Mean of word embeddings and a linear layer, on nlpzoo's shared loop.", '{"dim": 8}'),
}


def new_plugin(name: str, kind: str, folder: Path) -> Path:
    """Write ``folder/nlpzoo-<name>/``; refuses to write over anything that exists."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise nlpzoo.ConfigError(f"expected a lower-case name of letters, digits and '-', got {name!r}", "NAME")
    if kind not in KINDS:
        raise nlpzoo.ConfigError(f"expected one of {', '.join(KINDS)}, got {kind!r}{nlpzoo.did_you_mean(kind, KINDS)}",
                                 "--kind")
    root = folder / f"nlpzoo-{name}"
    if root.exists():
        raise nlpzoo.ConfigError(f"{root} already exists; choose another name or folder", "NAME")
    package = f"nlpzoo_{name.replace('-', '_')}"
    summary, params = KINDS[kind]
    values = {"name": name, "package": package, "kind": kind, "component": name,
              "cls": "".join(part.capitalize() for part in name.split("-")), "summary": summary,
              "underscored": name.replace("-", "_"), "params": params}
    files = {
        "pyproject.toml": "pyproject.toml.tmpl", "README.md": "README.md.tmpl", f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/components.py": f"components/{kind}.py.tmpl", f"tests/test_{package}.py": "test.py.tmpl",
    }
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text(f'"""nlpzoo-{name}."""\n', encoding="utf-8")
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((TEMPLATES / template).read_text(encoding="utf-8").format(**values), encoding="utf-8")
    return root
