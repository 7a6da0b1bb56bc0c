"""The documentation site builds, its generated reference is complete, and no link in the docs is broken.

The site is built the way CI and a reader build it (``mkdocs build --strict``: a missing page, a page
left out of the navigation or a broken link or anchor fails the build). The link test reads the
Markdown itself, so it also covers README.md and the anchors GitHub makes, which MkDocs never sees.
"""
from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "_generate" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return _generator()


@pytest.fixture(scope="module")
def site(module_folder):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    out = module_folder("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def _page(site: Path, path: str) -> str:
    return (site / path.removesuffix(".md") / "index.html").read_text(encoding="utf-8")


def _ids(page: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page))


# ---------------------------------------------------------------- the site


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page(site):
    assert (site / "index.html").is_file()
    for md in DOCS.rglob("*.md"):
        relative = md.relative_to(DOCS)
        if relative.parts[0] in ("_generate", "examples"):
            continue
        built = site / ("index.html" if relative.name == "index.md" and len(relative.parts) == 1 else
                        Path(*relative.parts[:-1]) / ("" if relative.stem == "index" else relative.stem) / "index.html")
        assert built.is_file(), f"docs/{relative} was not built into the site"


@pytest.mark.slow
def test_the_commands_page_lists_every_command_with_its_options(site, generator):
    import click

    page = _page(site, "reference/commands.md")
    ids, text = _ids(page), html.unescape(re.sub(r"<[^>]+>", "", page))
    cli = generator.the_cli()
    root = click.Context(cli, info_name="nlpzoo")
    names = cli.list_commands(root)
    assert {"train", "predict", "generate", "sample", "info", "init", "compare"} <= set(names)
    for name in names:
        assert f"nlpzoo-{name}" in ids, f"reference/commands.md has no section for 'nlpzoo {name}'"
        command = cli.get_command(root, name)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.opts[-1] in text, f"'nlpzoo {name}': option {param.opts[-1]} is not on the page"
        if command.help:
            first_words = " ".join(command.help.split()[:5])
            assert first_words in " ".join(text.split()), f"'nlpzoo {name}': its help is not on the page"


@pytest.mark.slow
def test_the_components_page_lists_every_registered_component_like_info(site, generator):
    from nlpzoo.plugins import get_manager

    page = _page(site, "reference/components.md")
    ids = _ids(page)
    manager = get_manager()
    entries = manager.registry.all()
    assert len(entries) > 30 and {e.kind for e in entries} >= {"classifier", "dataset", "optimizer", "augmenter"}
    sections = re.split(r'<h3 id="', page)
    by_anchor = {s.split('"', 1)[0]: html.unescape(re.sub(r"<[^>]+>", "", s)) for s in sections[1:]}
    for entry in entries:
        anchor = generator.component_anchor(entry.kind, entry.name)
        assert anchor in ids, f"reference/components.md has no section for {entry.kind} {entry.name!r}"
        section = by_anchor[anchor]
        assert entry.summary.split(".")[0][:40] in " ".join(section.split())
        for row in generator.parameters(entry.load()):  # name, type, default, range: what `nlpzoo info` shows
            assert row["name"] in section, f"{entry.name}: parameter {row['name']} is missing"
            if row["default"] is not None:
                assert row["default"] in section, f"{entry.name}: default of {row['name']} ({row['default']}) is missing"
            if row["range"]:
                assert row["range"] in section, f"{entry.name}: range of {row['name']} is missing"
    for preset in manager.catalog.presets:
        assert preset in page, f"preset {preset!r} is not on the components page"
    assert "train-settings" in ids and "max_steps" in by_anchor.get("train-settings", page)


def test_the_generated_parameters_are_what_info_prints(generator):
    """Each component's parameter rows carry what `nlpzoo info` prints: name, type, range and default."""
    from click.testing import CliRunner

    from nlpzoo.cli import cli
    from nlpzoo.plugins import get_manager

    for entry in get_manager().registry.all():
        printed = CliRunner().invoke(cli, ["info", entry.name, "--kind", entry.kind]).output
        block = printed.split("  parameters:\n", 1)[-1].split("\n\n", 1)[0]
        lines = {line.strip().split(":")[0].split(" ")[0]: line.strip() for line in block.splitlines()}
        for row in generator.parameters(entry.load()):
            line = lines.get(row["name"], "")
            expected = [row["type"], row["range"], "(required)" if row["default"] is None else f"= {row['default']}"]
            assert line and all(part in line for part in expected), \
                f"`nlpzoo info {entry.name}` prints {line!r} for {row['name']}; the page has {row}"


# ---------------------------------------------------------------- links


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def markdown_slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", re.sub(r"<[^>]+>", "", text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _without_code(text: str, inline: bool = True) -> str:
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text) if inline else text


def anchors_of(text: str, slug) -> set[str]:
    found, counts = set(), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", _without_code(text, inline=False), flags=re.M):
        explicit = re.search(r"\{#([^}\s]+)\}\s*$", heading)
        if explicit:
            found.add(explicit.group(1))
            continue
        base = slug(heading.replace("`", ""))
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}" if slug is github_slug else f"{base}_{n}")
    found |= set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', text))
    return found


def links_of(text: str) -> list[str]:
    return re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", _without_code(text)) + \
        re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", _without_code(text))


def _sources() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_generate" not in p.parts)]


@pytest.fixture(scope="module")
def generated(generator) -> dict[Path, str]:
    return {DOCS / path: text for path, text in generator.pages().items()}


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_anchor(source, generated):
    text = source.read_text(encoding="utf-8")
    broken = []
    for link in links_of(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
            continue
        path, _, fragment = link.partition("#")
        target = (source.parent / path).resolve() if path else source
        content = generated.get(target)
        if content is None:
            if not target.exists():
                broken.append(f"{link}: no such file")
                continue
            if not fragment:
                continue
            if target.suffix != ".md":
                broken.append(f"{link}: an anchor into a file that is not Markdown")
                continue
            content = target.read_text(encoding="utf-8")
        if fragment:
            for slug in (github_slug, markdown_slug):
                if fragment not in anchors_of(content, slug):
                    broken.append(f"{link}: no anchor #{fragment} in {target.relative_to(ROOT)} ({slug.__name__})")
                    break
    assert not broken, f"{source.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_the_readme_links_every_tutorial_and_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in links_of(readme)}
    pages = sorted([*DOCS.glob("tutorials/*.md"), *DOCS.glob("how-to/*.md")])
    assert len(pages) >= 15
    missing = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert not missing, f"README.md's Documentation section does not link: {', '.join(missing)}"


def test_link_checker_catches_what_it_should(tmp_path):
    """The checker itself: a missing file, a missing anchor and GitHub's anchor rules."""
    assert github_slug("Word files for `evaluate`".replace("`", "")) == "word-files-for-evaluate"
    assert github_slug("1. The package layout") == "1-the-package-layout"
    assert markdown_slug("Fine-tune BERT — on CSV") == "fine-tune-bert-on-csv" != github_slug("Fine-tune BERT — on CSV")
    text = "# A\n\n## Use it\n\n## Use it\n\n```\n# not a heading\n```\n<a id=\"row-1\"></a>"
    assert anchors_of(text, github_slug) == {"a", "use-it", "use-it-1", "row-1"}
    assert links_of("[x](a.md#b) `[y](c.md)` ![i](p.png)") == ["a.md#b", "p.png"]
