"""Reference pages generated when the site is built, so they cannot drift from the code.

- ``reference/commands.md``: every command of ``nlpzoo.cli.cli`` (plugins' commands included), its
  usage, help, arguments and options with their types and defaults, as ``--help`` shows them;
- ``reference/components.md``: every registered component, kind by kind, with its summary, provider,
  parameters (type, default, declared range) and docstring, as ``nlpzoo info`` shows them, then the
  catalogue's presets and the ``train:`` settings of a recipe.

MkDocs runs this file as a hook (``hooks:`` in mkdocs.yml): ``on_files`` adds the pages to the build.
``python docs/_generate/reference.py OUT_DIR`` writes them to a folder instead, to read them as text.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import re
import sys
import tokenize
import typing
from pathlib import Path

PAGES = ("reference/commands.md", "reference/components.md")
_CODE = re.compile(r"(``.+?``|`[^`]+`)")


def inline(text: str) -> str:
    """Plain text safe inside Markdown (and a table cell): code spans kept, markup characters escaped."""
    parts = _CODE.split(" ".join(str(text).split()))
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"([\\*_\[\]<>|#])", r"\\\1", parts[i])
    return "".join(parts).replace("|", "\\|")


def code(text: str) -> str:
    """``text`` as one code span in a table cell."""
    text = " ".join(str(text).split())  # a bar inside a code span stays in its cell (the tables extension skips code)
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def docstring(doc: str | None) -> str:
    """A docstring as Markdown paragraphs: reST ``::`` blocks become code blocks, the rest is escaped text."""
    if not doc:
        return ""
    out, block = [], False
    for para in inspect.cleandoc(doc).split("\n\n"):
        lines = para.splitlines()
        if block or (lines and all(l.startswith("    ") for l in lines)):
            out.append("```text\n" + "\n".join(l[4:] if l.startswith("    ") else l for l in lines) + "\n```")
        elif any(l.lstrip().startswith(("- ", "* ")) for l in lines):
            items = re.split(r"\n\s*[-*] ", "\n" + para.strip())[1:]
            out.append("\n".join(f"- {inline(item)}" for item in items))
        else:
            out.append(inline(para))
        block = para.rstrip().endswith("::")
        if block:
            out[-1] = out[-1].rstrip(":").rstrip("\\") + ":"
    return "\n\n".join(out)


# ---------------------------------------------------------------- commands


def the_cli():
    """``nlpzoo.cli.cli`` with the installed plugins' commands, as the ``nlpzoo`` script has them."""
    from nlpzoo.cli import cli
    from nlpzoo.plugins import get_manager

    get_manager().add_commands(cli)
    return cli


def commands_page() -> str:
    import click

    cli = the_cli()
    root = click.Context(cli, info_name="nlpzoo")
    names = cli.list_commands(root)
    lines = ["# Commands", "",
             "Every command and option of `nlpzoo`, generated from the command line itself when this site is "
             "built (what `nlpzoo COMMAND --help` prints). Errors are one line on stderr; `--debug` before the "
             "command shows the traceback. More on word files, shell completion and the environment: "
             "[command line](cli.md).", "",
             " · ".join(f"[{name}](#{_command_anchor(name)})" for name in names), ""]
    lines += _command_section(cli, root, "nlpzoo", anchor="nlpzoo", level=2)
    for name in names:
        command = cli.get_command(root, name)
        ctx = click.Context(command, info_name=name, parent=root)
        lines += _command_section(command, ctx, f"nlpzoo {name}", anchor=_command_anchor(name), level=2)
    return "\n".join(lines) + "\n"


def _command_anchor(name: str) -> str:
    return f"nlpzoo-{name}"


def _command_section(command, ctx, title: str, anchor: str, level: int) -> list[str]:
    import click

    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [f"{'#' * level} {title} {{#{anchor}}}", "", "```text", usage, "```", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        lines += [docstring(help_text.replace("\b\n", "")), ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    if arguments:
        lines += ["| argument | type | required |", "| --- | --- | --- |"]
        for p in arguments:
            many = " (any number)" if p.nargs == -1 else ""
            lines.append(f"| {code(p.human_readable_name)} | {code(_type_of(p, ctx))}{many} | "
                         f"{'yes' if p.required else 'no'} |")
        lines.append("")
    if options:
        lines += ["| option | type | default | what it does |", "| --- | --- | --- | --- |"]
        for p in options:
            record = p.get_help_record(ctx)
            names = record[0] if record else ", ".join(p.opts)
            what = re.sub(r"\s*\[(default|required)[^\]]*\]\s*$", "", record[1] if record else "")
            lines.append(f"| {code(names)} | {code(_type_of(p, ctx))} | {_default_of(p, ctx)} | {inline(what)} |")
        lines.append("")
    if command.epilog:
        example = [l for l in command.epilog.replace("\b", "").splitlines() if l.strip() and l.strip() != "Example:"]
        if example:
            lines += ["Example:", "", "```bash", *(l.strip() for l in example), "```", ""]
    return lines


def _type_of(param, ctx) -> str:
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        return "flag"
    kind = param.type
    choices = getattr(kind, "choices", None)
    if choices:
        text = "one of " + ", ".join(map(str, choices))
    else:
        text = getattr(kind, "name", str(kind))
        if text in ("integer", "float") and (getattr(kind, "min", None) is not None or getattr(kind, "max", None) is not None):
            text = f"{text} {kind._describe_range()}" if hasattr(kind, "_describe_range") else text
    if getattr(param, "multiple", False):
        text += ", repeatable"
    return text


def _default_of(param, ctx) -> str:
    default = param.get_default(ctx, call=False)
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        return "on" if default else "off"
    if default is None or default == () or callable(default) or type(default).__name__ == "Sentinel":
        return ""  # click 8.2+ marks "no default" with a sentinel
    return code(default)


# ---------------------------------------------------------------- components


def components_page() -> str:
    from nlpzoo.plugins import get_manager
    from nlpzoo.registry import KINDS

    manager = get_manager()
    registry, catalog = manager.registry, manager.catalog
    entries = {kind: sorted(registry.all(kind), key=lambda e: e.name) for kind in KINDS}
    lines = ["# Components", "",
             "Every component that the installed plugins register, kind by kind, generated from their "
             "signatures and docstrings when this site is built (what `nlpzoo info NAME` prints). A recipe "
             "names them under `model:`, `dataset:`, `augment:`, `optimizer:`, `scheduler:` (or inside "
             "another component's parameters); every parameter is a key of that mapping. Presets (named "
             "settings of a component, some with packaged weights) and the `train:` settings follow.", ""]
    lines += ["| kind | components |", "| --- | --- |"]
    for kind, group in entries.items():
        if group:
            links = ", ".join(f"[{e.name}](#{component_anchor(kind, e.name)})" for e in group)
            lines.append(f"| [{kind}](#{kind.replace('_', '-')}) | {links} |")
    lines += ["", "Also: [presets](#presets), [train settings](#train-settings).", ""]
    for kind, group in entries.items():
        if not group:
            continue
        lines += [f"## {kind} {{#{kind.replace('_', '-')}}}", ""]
        for entry in group:
            lines += _component_section(entry)
    lines += _presets_section(catalog)
    lines += _train_section()
    return "\n".join(lines) + "\n"


def component_anchor(kind: str, name: str) -> str:
    return f"{kind.replace('_', '-')}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"


def _component_section(entry) -> list[str]:
    lines = [f"### {entry.name} {{#{component_anchor(entry.kind, entry.name)}}}", ""]
    if entry.summary:
        lines += [inline(entry.summary), ""]
    facts = [f"kind `{entry.kind}`",
             f"provider `{entry.provider}` ({inline(entry.distribution)} {inline(entry.version)})".replace(" ()", ""),
             f"target `{entry.target}`"]
    if entry.aliases:
        facts.append("aliases " + ", ".join(f"`{a}`" for a in entry.aliases))
    if entry.tags:
        facts.append("tags " + ", ".join(f"`{t}`" for t in entry.tags))
    lines += ["; ".join(facts), ""]
    try:
        target = entry.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal to the page
        return lines + [f"*Could not be imported here: {inline(exc)}*", ""]
    lines += parameters_table(target)
    doc = docstring(inspect.getdoc(target))
    if doc:
        lines += [doc, ""]
    return lines


def parameters(target) -> list[dict]:
    """Each constructor parameter: name, type, default, range; what ``nlpzoo info`` lists."""
    from nlpzoo.config import signature_of, type_hints

    hints = type_hints(target)
    rows = []
    for name, p in signature_of(target).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(name, p.annotation)
        base, ranges = split_ranges(ann)
        rows.append({"name": name,
                     "type": "" if base is inspect.Parameter.empty else type_name(ann),  # as info prints it
                     "default": None if p.default is p.empty else repr(p.default),
                     "range": ", ".join(ranges)})
    return rows


def parameters_table(target) -> list[str]:
    rows = parameters(target)
    if not rows:
        return ["Parameters: none.", ""]
    lines = ["| parameter | type and range | default |", "| --- | --- | --- |"]
    for r in rows:
        default = "required" if r["default"] is None else code(r["default"])
        lines.append("| " + " | ".join([code(r["name"]), code(r["type"]) if r["type"] else "", default]) + " |")
    return lines + [""]


def split_ranges(annotation) -> tuple[object, list[str]]:
    """``Annotated[int, Range(1)]`` -> ``(int, [">= 1"])``; looks through ``X | None``."""
    ranges: list[str] = []

    def strip(ann):
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            base, *meta = typing.get_args(ann)
            ranges.extend(str(m) for m in meta if hasattr(m, "contains"))
            return strip(base)
        if origin is typing.Union or type(ann).__name__ == "UnionType":
            args = tuple(strip(a) for a in typing.get_args(ann))
            return typing.Union[args] if len(args) > 1 else args[0]
        return ann

    return strip(annotation), ranges


def type_name(annotation) -> str:
    from nlpzoo.config import _type_name

    return _type_name(annotation)


def _presets_section(catalog) -> list[str]:
    lines = ["## Presets {#presets}", "",
             "Named settings of a component from the catalogue (`registry.yaml` and plugins): a recipe names a "
             "preset like a component, and its own keys override the preset's.", "",
             "| preset | kind | builds | settings | weights |", "| --- | --- | --- | --- | --- |"]
    for name, preset in sorted(catalog.presets.items()):
        settings = ", ".join(f"`{k}: {v!r}`".replace("|", "\\|") for k, v in preset.params.items())
        weights = preset.weights or {}
        source = f"`{weights['source']}`" if weights.get("source") else ""
        target = f"[{preset.component}](#{component_anchor(preset.kind, preset.component)})"
        lines.append(f"| `{name}` | `{preset.kind}` | {target} | {settings} | {source} |")
    lines.append("")
    for name, preset in sorted(catalog.presets.items()):
        if preset.summary:
            lines.append(f"- `{name}`: {inline(preset.summary)}")
    return lines + [""]


def _train_section() -> list[str]:
    from nlpzoo_training import TrainConfig

    hints = typing.get_type_hints(TrainConfig, include_extras=True)
    notes = _field_comments(TrainConfig)
    lines = ["## train settings {#train-settings}", "",
             "The `train:` section of a recipe: settings of the shared training loop (`nlpzoo_training.TrainConfig`).",
             "", "| key | type | default | range | note |", "| --- | --- | --- | --- | --- |"]
    for f in dataclasses.fields(TrainConfig):
        base, ranges = split_ranges(hints.get(f.name, f.type))
        default = f.default if f.default is not dataclasses.MISSING else None
        lines.append(f"| `{f.name}` | {code(type_name(base))} | {code(repr(default))} | "
                     f"{code(', '.join(ranges)) if ranges else ''} | {inline(notes.get(f.name, ''))} |")
    return lines + [""]


def _field_comments(cls) -> dict[str, str]:
    """The comment at the end of each field's line in the dataclass's source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found, field = {}, None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.start[1] == 4 and field is None:
            field = token.string
        elif token.type == tokenize.COMMENT and field:
            found[field] = token.string.lstrip("# ").strip()
        elif token.type == tokenize.NEWLINE:
            field = None
    return found


# ---------------------------------------------------------------- the MkDocs hook and the command line


def pages() -> dict[str, str]:
    """Each generated page's path under docs/ and its Markdown."""
    return {"reference/commands.md": commands_page(), "reference/components.md": components_page()}


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, text in pages().items():
        files.append(File.generated(config, path, content=text))
    return files


if __name__ == "__main__":  # pragma: no cover
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/reference")
    for path, text in pages().items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")
        print(out / path)
