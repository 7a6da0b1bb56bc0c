"""``nlpzoo report``, ``nlpzoo runs`` and ``nlpzoo compare``: a run's page, a folder of runs, runs side by side."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

import nlpzoo
from nlpzoo.commands import echo, example


@click.command(epilog=example("nlpzoo report runs/rt -o rt-report.html"))
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the page here instead of RUN/report.html; - for standard output.")
def report(run, output):
    """Write RUN's report.html again: metrics, plots, samples, recipe and provenance on one page.

    Every run writes it when training ends; this makes it again, for instance for a run still
    training or stopped. The page is one self-contained file: it needs no network.
    """
    from .report import write_report

    written = write_report(run, output)
    if output != "-":
        echo(f"wrote {written}")


@click.command("runs", epilog=example("nlpzoo runs runs/"))
@click.argument("directory", default="runs", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs(directory, as_json):
    """The runs in DIRECTORY (default runs/): status, model, dataset, key metric, wall time, device."""
    from .report import duration, find_runs, fmt

    if not os.path.isdir(directory):
        raise nlpzoo.ConfigError("no such directory; runs go to runs/ unless 'nlpzoo train --run-dir' says otherwise",
                                 file=directory)
    rows, unreadable = [], []
    for r in find_runs(directory, unreadable):
        name = os.path.relpath(r.dir, directory) if r.dir != Path(directory) else str(r.dir)
        try:  # one damaged folder is one line; the others are listed
            key = r.key_metric()
            rows.append({"run": name, "status": r.status, "model": r.model_name, "dataset": r.dataset_name,
                         "metric": key[0] if key else None, "value": key[1] if key else None,
                         "seconds": r.seconds, "device": r.device})
        except nlpzoo.NlpzooError as exc:
            unreadable.append((r.dir, str(exc)))
    for folder, reason in unreadable:
        echo(f"nlpzoo: skipped {folder}: {reason.splitlines()[0] if reason else ''}", err=True)
    if as_json:
        echo(json.dumps(rows, indent=2, allow_nan=False))
        return
    if not rows:
        echo(f"no runs in {directory}")
        return
    table = [("run", "status", "model", "dataset", "key metric", "wall time", "device")]
    table += [(r["run"], r["status"], r["model"], r["dataset"],
               f"{r['metric']} {fmt(r['value'])}" if r["metric"] else "-", duration(r["seconds"]), r["device"]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


@click.command(epilog=example("nlpzoo compare runs/rt runs/bert -o rt-vs-bert.html"))
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--output", "-o", default="compare.html", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="The page; - for standard output.")
def compare(runs, output):
    """Put RUNS side by side on one page: facts, metrics, recipe differences and overlaid curves."""
    from .compare import write_comparison

    if len(runs) < 2:
        raise nlpzoo.ConfigError("give at least two runs to compare (for one run: nlpzoo report RUN)", "RUNS")
    written = write_comparison(runs, output)
    if output != "-":
        echo(f"wrote {written}")
