"""A run's page, ``report.html``, and what ``nlpzoo train`` writes for it when a run ends.

Everything is read from a run directory's files (``run.json``, ``metrics.json``, ``metrics.jsonl``,
``recipe.yaml``, ``provenance.json`` and the pictures the run drew), so a page can be made again at
any time (:mod:`nlpzoo_reports.compare` puts several runs on one page the same way). Pages are one
self-contained HTML file each: pictures are inlined as data URIs, there is no
script, and a content security policy forbids the browser any network access, so a page can be
mailed, archived or opened offline and shows the same thing.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import stat
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path

from nlpzoo import ConfigError, NlpzooError
from nlpzoo.files import confined
from nlpzoo.runs import RunHandle, read_run_json, read_run_records, read_run_text

REPORT = "report.html"
GENERATED = Path("samples") / "generated.json"  # texts a model generated at the end of its run
PICTURE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".svg": "image/svg+xml"}
NOT_PICTURES_OF_THE_RUN = ("checkpoints", "model", "tensorboard")  # weights and raw logs, not pictures to read
MAX_PICTURE = 32 * 1024 * 1024  # the largest picture put on a page (the plots of a run are tens of KB)


class RunFolder(RunHandle):
    """A run directory seen as a page sees it; files a run has not written yet read as empty.

    Every file is read with the run folder's confined, size-bounded reader (:func:`nlpzoo.runs.read_run_text`):
    nothing outside the folder, no FIFO or device, nothing beyond the size limit. Every value is
    checked for its type before it is used: a damaged record shows as ``-``, never as a traceback.
    """

    @property
    def name(self) -> str:
        return self.dir.resolve().name

    @property
    def metrics(self) -> dict[str, float]:
        recorded = super().metrics or self.info.get("metrics")
        if not isinstance(recorded, dict):
            return {}
        return {str(k): v for k, v in recorded.items() if number(v) is not None}

    @cached_property
    def records(self) -> list[dict]:
        """``metrics.jsonl``, one dict per line; a line cut short by a killed process, or not a mapping, is skipped."""
        return read_run_records(self.dir)

    @cached_property
    def recipe_text(self) -> str:
        return read_run_text(self.dir, "recipe.yaml", "recipe") or ""

    @cached_property
    def recipe(self) -> dict:
        return super().recipe if self.recipe_text else {}

    @cached_property
    def provenance(self) -> dict:
        if not os.path.lexists(self.dir / "provenance.json"):
            return {}
        record = read_run_json(self.dir, "provenance.json")
        return record if isinstance(record, dict) else {}

    @property
    def model_name(self) -> str:
        return _text((self.info.get("model") or {}).get("name"))

    @property
    def dataset_name(self) -> str:
        dataset = self.info.get("dataset")
        return _text(dataset.get("name") if isinstance(dataset, dict) else None)

    @property
    def device(self) -> str:
        """Where the run trained, from ``run.json``; '-' for runs that did not record it."""
        device = self.info.get("device")
        if isinstance(device, dict):
            device = device.get("name") or device.get("type")
        return _text(device)

    @property
    def status(self) -> str:
        """As run.json says (as text, whatever it holds); "running" with no live process holding the lock is
        ``interrupted``."""
        from nlpzoo.runs import lock_is_held

        recorded = _text(self.info.get("status"), "unknown")
        return "interrupted" if recorded == "running" and not lock_is_held(self.dir) else recorded

    @property
    def seconds(self) -> float | None:
        """Wall time: recorded when the run finished, counted from its start while it runs."""
        recorded = number(self.info.get("seconds"))
        if recorded is not None:
            return recorded
        started = self.info.get("started")
        if self.status == "running" and isinstance(started, str):
            try:
                return time.time() - time.mktime(time.strptime(started, "%Y-%m-%dT%H:%M:%S"))
            except (ValueError, OverflowError):
                return None
        return None

    @property
    def started(self) -> str:
        return _text(self.info.get("started"), "")

    @property
    def metric(self) -> str:
        """The recipe's ``train.metric``: the one the run was judged by."""
        train = self.recipe.get("train")
        return _text(train.get("metric") if isinstance(train, dict) else None, "loss")

    def key_metric(self) -> tuple[str, float] | None:
        """The test value of the run's metric, else its validation value, else the first metric recorded."""
        metrics = self.metrics
        for name in (f"test_{self.metric}", f"val_{self.metric}", self.metric):
            if number(metrics.get(name)) is not None:
                return name, number(metrics[name])
        first = next(((k, number(v)) for k, v in metrics.items() if number(v) is not None), None)
        return first

    def pictures(self) -> list[Path]:
        """Every picture the run drew: its plots first, then the rest by folder, samples last.

        Only regular files inside the run folder count: a symlink out, a FIFO or a device is left out.
        """
        found = [p for p in self.dir.rglob("*") if p.suffix.lower() in PICTURE_TYPES and _regular_inside(self.dir, p)
                 and p.relative_to(self.dir).parts[0] not in NOT_PICTURES_OF_THE_RUN]

        def order(path: Path):
            rel = path.relative_to(self.dir)
            group = 0 if rel.parts[0] == "plots" else 2 if rel.parts[0] == "samples" else 1
            return group, len(rel.parts), str(rel)

        return sorted(found, key=order)

    def generated(self) -> dict | None:
        if not os.path.lexists(self.dir / GENERATED):
            return None
        try:
            record = read_run_json(self.dir, GENERATED.as_posix())
        except ConfigError:
            return None
        return record if isinstance(record, dict) else None

    def picture_uri(self, path: Path) -> str:
        """A picture of the run as a data URI, read with the run folder's bounded reader."""
        from nlpzoo.files import read_bounded

        raw = read_bounded(path, MAX_PICTURE, "picture", inside=self.dir)
        return f"data:{PICTURE_TYPES[path.suffix.lower()]};base64,{base64.b64encode(raw).decode('ascii')}"


def number(value) -> float | None:
    """``value`` as a finite float when it is a number (not a bool) that has one; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer of 400 digits
        return None
    return value if math.isfinite(value) else None


def _text(value, default: str = "-") -> str:
    """A record's value shown as text: strings and numbers as they are, anything else (or nothing) as ``default``."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value) if not isinstance(value, int) or abs(value) < 10 ** 30 else default
    return default


def _regular_inside(root: Path, path: Path) -> bool:
    try:
        confined(root, path)
        return stat.S_ISREG(os.stat(path).st_mode)
    except (ConfigError, OSError):
        return False


def find_runs(directory: str | Path, unreadable: list | None = None) -> list[RunFolder]:
    """The runs in ``directory`` (or ``directory`` itself), found by their ``run.json``, oldest first.

    A folder whose ``run.json`` cannot be read is left out, and added to ``unreadable`` as ``(folder,
    the one-line reason)``.
    """
    root = Path(directory)
    if (root / "run.json").is_file():
        return [RunFolder(root)]
    found = []
    for info in sorted(root.glob("*/run.json")) + sorted(root.glob("*/*/run.json")):
        try:
            found.append(RunFolder(info.parent))
        except NlpzooError as exc:
            if unreadable is not None:
                unreadable.append((info.parent, str(exc)))
    return sorted(found, key=lambda r: (r.started, str(r.dir)))


# ---------------------------------------------------------------- the end of a run


def finish_run(run_dir: str | Path, model=None, data: dict | None = None) -> None:
    """What a run gets last, once the model is saved with its card: the texts a generative model writes
    for the page, then ``report.html``.

    Neither failing undoes a trained and saved run: each failure is a warning that says what is missing.
    """
    run_dir = Path(run_dir)
    _warn_on_failure("the generated samples", lambda: record_generations(run_dir, model, data or {}))
    _warn_on_failure(f"{REPORT} (make it with: nlpzoo report {run_dir})", lambda: write_report(run_dir))


def _warn_on_failure(what: str, step) -> None:
    from nlpzoo.files import one_line

    try:
        step()
    except Exception as exc:  # noqa: BLE001 - the run itself is finished and saved
        print(f"nlpzoo: warning: {what} not written: {type(exc).__name__}: {one_line(str(exc))[:300]}", file=sys.stderr)


def record_generations(run_dir: str | Path, model, data: dict) -> None:
    """Samples for the report: continuations of held-out openings from a language model, texts from a
    text GAN, a grid from an image GAN that drew none itself."""
    from nlpzoo import GAN, LanguageModel
    from nlpzoo.files import atomic_write

    run_dir = Path(run_dir)
    if isinstance(model, LanguageModel):
        settings = {"max_tokens": 40, "temperature": 0.8, "top_k": 0, "top_p": 0.9}
        prompts = _openings(data, count=3, words=4)
        samples = [{"prompt": p, "text": model.generate(p, seed=i, **settings)} for i, p in enumerate(prompts)]
        record = {"what": "continuations of the first words of held-out texts", "settings": settings,
                  "samples": samples}
    elif isinstance(model, GAN) and model.modality == "text":
        record = {"what": "texts sampled from the generator", "settings": {"seed": 0},
                  "samples": [{"prompt": "", "text": str(t)} for t in model.sample(8, seed=0)]}
    elif isinstance(model, GAN) and model.modality == "image" and not list((run_dir / "samples").glob("*.png")):
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        model.save_samples(model.sample(64, seed=0), run_dir / "samples" / "samples.png")  # the GAN's own grid
        return
    else:
        return
    atomic_write(run_dir / GENERATED, json.dumps(record, indent=1, ensure_ascii=False), inside=run_dir)


def _openings(data: dict, count: int, words: int) -> list[str]:
    for split in ("test", "validation", "train"):
        texts = [ex["text"] for ex in data.get(split) or [] if isinstance(ex, dict) and isinstance(ex.get("text"), str)]
        openings = [" ".join(t.split()[:words]) for t in texts if t.split()]
        if openings:
            return openings[:count]
    return [""]


# ---------------------------------------------------------------- one run


def write_report(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write the run's page (``RUN/report.html`` unless ``output`` is given); its path."""
    from nlpzoo.files import atomic_write

    run = RunFolder(run_dir)
    if output == "-":
        from nlpzoo.files import write_output

        write_output("-", render_report(run))
        return Path("-")
    target = Path(output) if output else run.dir / REPORT
    atomic_write(target, render_report(run), inside=None if output else run.dir)
    return target


def render_report(run: RunFolder) -> str:
    info = run.info
    key = run.key_metric()
    facts = [("status", run.status), ("model", component(info.get("model"))), ("dataset", component(info.get("dataset"))),
             ("seed", info.get("seed", "-")), ("key metric", f"{key[0]} {fmt(key[1])}" if key else "-"),
             ("wall time", duration(run.seconds)), ("training loop", _loop_time(info)), ("device", run.device),
             ("processes", info.get("world_size", "-")),
             ("started", info.get("started", "-")), ("finished", info.get("finished", "-")),
             ("directory", str(run.dir.resolve()))]
    if run.error:  # a failed or interrupted run says how it ended, at the top
        facts.insert(1, ("ended with", run.error + (f" (in {run.info['where']})" if run.info.get("where") else "")))
    body = [f"<h1>{escape(run.name)}</h1>", _key_values(facts, "facts")]
    body += ["<h2>Metrics</h2>", _metrics_table(run.metrics, run.status)]
    evaluations = _evaluations(run.records, run.metric)
    if evaluations:
        body += ["<h2>Evaluations during training</h2>", evaluations]
    pictures = run.pictures()
    drawn = _metric_curve(run)
    if pictures or drawn:
        body.append("<h2>Plots</h2>")
        samples = [p for p in pictures if p.relative_to(run.dir).parts[0] == "samples"]
        body += [figure(run.picture_uri(p), str(p.relative_to(run.dir))) for p in pictures if p not in samples]
        if drawn:
            body.append(figure(drawn, f"validation {run.metric} at each evaluation (drawn from metrics.jsonl)"))
        if samples:
            body.append("<h2>Samples</h2>")
            body += [figure(run.picture_uri(p), str(p.relative_to(run.dir))) for p in samples]
    generated = run.generated()
    if generated:
        body += ["<h2>Generated text</h2>", _generated(generated)]
    body += ["<h2>Recipe</h2>", "<p>Resolved: every component pinned to the plugin that provided it.</p>",
             f"<pre>{escape(run.recipe_text or '(no recipe.yaml)')}</pre>"]
    body += ["<h2>Provenance</h2>", _provenance(run.provenance)]
    return page(f"nlpzoo run {run.name}", body)


def _loop_time(info: dict) -> str:
    """Time in the shared training loop and its speed, which torch models record."""
    seconds, speed = number(info.get("train_seconds")), number(info.get("train_examples_per_s"))
    if seconds is None:
        return "-"
    return duration(seconds) + (f", {speed:,.1f} examples/s" if speed is not None else "")


def component(described) -> str:
    if not isinstance(described, dict):
        return "-"
    return f"{described.get('name', '-')} ({described.get('kind', '?')} from {described.get('provider', '?')})"


def _metrics_table(metrics: dict, status: str = "finished") -> str:
    if not metrics:
        return ("<p>No metrics yet (the run has not finished).</p>" if status == "running"
                else f"<p>No final metrics: the run is {escape(status)}.</p>")
    order = sorted(metrics, key=lambda k: (0 if k.startswith("test_") else 1 if k.startswith("val_") else 2, k))
    rows = "".join(f"<tr><th>{escape(k)}</th><td class='num'>{escape(fmt(metrics[k]))}</td></tr>" for k in order)
    return f"<table class='metrics'><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _evaluations(records: list[dict], metric: str) -> str:
    evals = [r for r in records if any(k.startswith("val_") for k in r)]
    if not evals:
        return ""
    keys = sorted({k for r in evals for k in r if k.startswith("val_")}, key=lambda k: (k != f"val_{metric}", k))
    head = "".join(f"<th>{escape(k)}</th>" for k in ["step", "epoch", *keys, "best"])
    rows = []
    for r in evals:
        cells = [r.get("step", "-"), r.get("epoch", "-"), *(r.get(k, "") for k in keys), "yes" if r.get("best") else ""]
        rows.append("<tr>" + "".join(f"<td class='num'>{escape(fmt(c))}</td>" for c in cells) + "</tr>")
    table = f"<div class='wide'><table class='evaluations'><tr>{head}</tr>{''.join(rows)}</table></div>"
    return table if len(rows) <= 20 else f"<details><summary>{len(rows)} evaluations</summary>{table}</details>"


def _metric_curve(run: RunFolder) -> str | None:
    """The judged validation metric over training, when it is not the loss (plotted by the run already)."""
    key = f"val_{run.metric}"
    points = [(number(r.get("step")), number(r.get(key))) for r in run.records]
    points = [(x, y) for x, y in points if x is not None and y is not None]
    if key == "val_loss" or len(points) < 2:
        return None
    return curves_uri({key: points}, title=key)


def _generated(record: dict) -> str:
    items = []
    samples = record.get("samples")
    for s in samples if isinstance(samples, list) else []:
        if not isinstance(s, dict):
            continue
        prompt, text = str(s.get("prompt", "")), str(s.get("text", ""))
        if prompt and text.startswith(prompt):
            items.append(f"<li><b>{escape(prompt)}</b>{escape(text[len(prompt):])}</li>")
        else:
            items.append(f"<li>{escape(text)}</li>")
    settings = record.get("settings")
    settings = ", ".join(f"{k} {v}" for k, v in settings.items()) if isinstance(settings, dict) else ""
    return (f"<p>{escape(record.get('what', ''))}" + (f" ({escape(settings)})" if settings else "") + ":</p>"
            + f"<ul class='generated'>{''.join(items)}</ul>")


def _provenance(record: dict) -> str:
    if not record:
        return "<p>No provenance.json.</p>"
    scalars = [(k, " ".join(map(str, v)) if isinstance(v, list) else v) for k, v in record.items()
               if not isinstance(v, dict) and k != "data"]
    parts = [_key_values(scalars, "provenance")]
    data = [d for d in record.get("data") or [] if isinstance(d, dict)] if isinstance(record.get("data"), list) else []
    if data:
        rows = "".join(f"<tr><td>{escape(d.get('path', ''))}</td><td class='num'>{escape(d.get('size', '-'))}</td>"
                       f"<td><code>{escape(d.get('sha256', d.get('error', '')))}</code></td></tr>" for d in data)
        parts.append(f"<h3>Data files</h3><table><tr><th>path</th><th>bytes</th><th>sha256</th></tr>{rows}</table>")
    libraries = record.get("libraries") if isinstance(record.get("libraries"), dict) else {}
    if libraries:
        parts.append("<h3>Libraries</h3>" + _key_values(sorted(libraries.items()), "libraries"))
    plugins = record.get("plugins") if isinstance(record.get("plugins"), dict) else {}
    if plugins:
        rows = [(name, f"{p.get('distribution', '')} {p.get('version', '')} ({p.get('status', '')})")
                for name, p in plugins.items() if isinstance(p, dict)]
        parts.append("<h3>Plugins</h3>" + _key_values(rows, "plugins"))
    if "resumed_from" in record:
        parts.append("<h3>First started as</h3>" + f"<pre>{escape(json.dumps(record['resumed_from'], indent=1))}</pre>")
    return "".join(parts)


# ---------------------------------------------------------------- page parts


STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.best { font-weight: bold; background: #e3f3e3; }
figure { display: inline-block; margin: 0.5em 1% 0.5em 0; vertical-align: top; max-width: 48%; }
div.wide { overflow-x: auto; }
figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #555; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; } ul.generated li { margin-bottom: 0.5em; }
"""
# no network, no script: the page shows only what it carries
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{POLICY}\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body)
            + f"\n<footer><p>Written by nlpzoo on {time.strftime('%Y-%m-%d %H:%M:%S')}.</p></footer>\n</body></html>\n")


def _key_values(pairs, css: str) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)
    return f"<table class='{css}'>{rows}</table>"


def figure(uri: str, caption: str) -> str:
    return f"<figure><img src='{uri}' alt='{escape(caption)}'><figcaption>{escape(caption)}</figcaption></figure>"


def _data_uri(path: Path) -> str:
    kind = PICTURE_TYPES[path.suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def curves_uri(curves: dict[str, list[tuple[float, float]]], title: str) -> str:
    """One line per curve, drawn by :func:`nlpzoo_training.plots.plot_curves`, as a PNG data URI."""
    from nlpzoo_training import plot_curves

    with tempfile.TemporaryDirectory(prefix="nlpzoo-report-") as tmp:
        path = Path(tmp) / "curve.png"
        plot_curves({k: [y for _, y in pts] for k, pts in curves.items()}, path, title=title, xlabel="optimizer step",
                    xs={k: [x for x, _ in pts] for k, pts in curves.items()})
        return _data_uri(path)


def escape(value) -> str:
    return html.escape(str(value), quote=True)


def fmt(value) -> str:
    """Numbers as ``nlpzoo train`` prints them (four decimals), large ones with separators."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.1f}" if abs(value) >= 10_000 else f"{value:.4f}"
    return str(value)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
