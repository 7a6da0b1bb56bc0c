"""Several runs on one page: their facts and metrics side by side, what their recipes change, and
their curves overlaid (``nlpzoo compare``)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .report import RunFolder, component, curves_uri, duration, escape, figure, fmt, number, page

LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error", "fid", "frechet", "distance", "oov")
NOT_CURVES = ("step", "epoch", "best", "early_stop")  # bookkeeping in metrics.jsonl, not quantities


def write_comparison(run_dirs: Sequence[str | Path], output: str | Path) -> Path:
    """A page with the runs' facts and metrics side by side, their recipes' differences and their
    curves (from ``metrics.jsonl``) overlaid, one plot per logged quantity."""
    from nlpzoo.files import atomic_write

    runs = [RunFolder(d) for d in run_dirs]
    page_text = render_comparison(runs)
    if str(output) == "-":
        from nlpzoo.files import write_output

        write_output("-", page_text)
    else:
        atomic_write(output, page_text)
    return Path(output)


def render_comparison(runs: Sequence[RunFolder]) -> str:
    labels = _labels(runs)
    head = "<tr><th></th>" + "".join(f"<th>{escape(label)}</th>" for label in labels) + "</tr>"

    def row(title: str, values: list, best: set[int] = frozenset(), as_written: bool = False) -> str:
        shown = [str(v) if as_written else fmt(v) for v in values]
        cells = "".join(f"<td class='num{' best' if i in best else ''}'>{escape(v)}</td>" for i, v in enumerate(shown))
        return f"<tr><th>{escape(title)}</th>{cells}</tr>"

    facts = [row("directory", [str(r.dir) for r in runs]), row("status", [r.status for r in runs]),
             row("model", [component(r.info.get("model")) for r in runs]),
             row("dataset", [component(r.info.get("dataset")) for r in runs]),
             row("seed", [r.info.get("seed", "-") for r in runs]),
             row("key metric", [f"{k[0]} {fmt(k[1])}" if (k := r.key_metric()) else "-" for r in runs]),
             row("wall time", [duration(r.seconds) for r in runs]), row("device", [r.device for r in runs])]
    body = [f"<h1>Comparison of {len(runs)} runs</h1>", f"<table class='facts'>{head}{''.join(facts)}</table>"]

    names = sorted({k for r in runs for k in r.metrics},
                   key=lambda k: (0 if k.startswith("test_") else 1 if k.startswith("val_") else 2, k))
    rows = []
    for name in names:
        values = [r.metrics.get(name) for r in runs]
        rows.append(row(name, ["-" if v is None else v for v in values], _best(name, values)))
    body += ["<h2>Metrics side by side</h2>",
             "<p>The best value of each row is marked (lower is better for losses, perplexities and distances).</p>",
             f"<table class='metrics'>{head}{''.join(rows)}</table>" if rows else "<p>No metrics yet.</p>"]

    differences = _recipe_differences(runs)
    body.append("<h2>Recipe differences</h2>")
    if differences:
        rows = [row(key, values, as_written=True) for key, values in differences]
        body.append(f"<table class='recipes'>{head}{''.join(rows)}</table>")
    else:
        body.append("<p>The recipes are the same.</p>")

    curves = _overlaid_curves(runs, labels)
    body.append("<h2>Curves</h2>")
    body += [figure(uri, title) for title, uri in curves] or ["<p>No metrics.jsonl records to draw.</p>"]
    return page(f"nlpzoo: comparison of {', '.join(labels)}", body)


def _labels(runs: Sequence[RunFolder]) -> list[str]:
    names = [r.name for r in runs]
    return [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]


def _best(name: str, values: list) -> set[int]:
    numbers = [(i, number(v)) for i, v in enumerate(values) if number(v) is not None]
    if len(numbers) < 2 or len({v for _, v in numbers}) == 1:
        return set()
    pick = min if any(word in name.lower() for word in LOWER_IS_BETTER) else max
    target = pick(v for _, v in numbers)
    return {i for i, v in numbers if v == target}


def _recipe_differences(runs: Sequence[RunFolder]) -> list[tuple[str, list]]:
    flat = [_flatten({k: v for k, v in r.recipe.items() if k not in ("name", "description")}) for r in runs]
    keys = sorted(set().union(*flat)) if flat else []
    return [(k, [f.get(k, "-") for f in flat]) for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]


def _flatten(tree, prefix: str = "") -> dict:
    if isinstance(tree, dict) and tree:
        out = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(tree) if isinstance(tree, (list, dict)) else tree}


def _overlaid_curves(runs: Sequence[RunFolder], labels: list[str]) -> list[tuple[str, str]]:
    series: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for run, label in zip(runs, labels):
        for r in run.records:
            step = number(r.get("step"))
            for k, v in r.items():
                if k not in NOT_CURVES and number(v) is not None and step is not None:
                    series.setdefault(k, {}).setdefault(label, []).append((step, number(v)))

    def order(key: str):
        return (0 if key.startswith("train_") else 1 if key == "val_loss" else 2 if key.startswith("val_") else 3, key)

    return [(f"{key} by optimizer step", curves_uri(series[key], title=key)) for key in sorted(series, key=order)]
