"""``sweep.html``: one self-contained page per sweep (inline SVG, no script, no network).

The trials table, the best value over the trials, each parameter against the objective, the
importance of each parameter (Optuna's evaluator) and the pruned trials.
"""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

from nlpzoo.files import atomic_write

W, H, PAD = 520, 260, 44  # a plot's size and margin, in pixels
STATE_COLOURS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#d62728"}


def write_page(folder: Path, study) -> Path:
    path = Path(folder) / "sweep.html"
    atomic_write(path, render(study))
    return path


def render(study) -> str:
    settings = study.user_attrs.get("settings", {})
    metric = f"val_{settings.get('metric', 'objective')}"
    trials = [t for t in study.get_trials(deepcopy=False)]
    scored = [t for t in trials if t.value is not None and t.state.name in ("COMPLETE", "PRUNED")]
    body = [f"<h1>Sweep {_e(study.study_name)}</h1>",
            f"<p>{len(trials)} trials; objective {_e(metric)} on the validation split, "
            f"{_e(study.direction.name.lower())}d; sampler {_e(settings.get('sampler', '-'))}, "
            f"pruner {_e(settings.get('pruner', '-'))}; recipe {_e(settings.get('recipe', '-'))}.</p>"]
    body += _best_section(study, metric)
    body += ["<h2>Trials</h2>", _trials_table(trials, metric)]
    body += ["<h2>Best value over trials</h2>", _best_so_far(scored, study.direction.name == "MINIMIZE", metric)]
    body += ["<h2>Parameter importance</h2>", _importances(study)]
    body += ["<h2>Each parameter against the objective</h2>"]
    keys = list(dict.fromkeys(k for t in scored for k in t.params))
    body += [_scatter(scored, key, metric) for key in keys] or ["<p>No scored trials yet.</p>"]
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    body += ["<h2>Pruned trials</h2>", _pruned_table(pruned, metric) if pruned else "<p>No trial was pruned.</p>"]
    body.append(f"<p class='foot'>Written by nlpzoo on {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>")
    return PAGE.format(title=_e(f"sweep {study.study_name}"), body="\n".join(body))


def _best_section(study, metric: str) -> list[str]:
    try:
        best = study.best_trial
    except ValueError:  # no finished trial yet
        return ["<p>No finished trial yet.</p>"]
    values = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in best.user_attrs.get("values", {}).items())
    return [f"<h2>Best trial: {best.number}</h2>",
            f"<p id='best'>{_e(metric)} {best.value:.4f} in run {_e(best.user_attrs.get('run', '-'))}; "
            f"its full recipe is best.yaml.</p>", f"<table class='kv'>{values}</table>"]


def _trials_table(trials, metric: str) -> str:
    keys = list(dict.fromkeys(k for t in trials for k in t.user_attrs.get("values", {})))
    head = "".join(f"<th>{_e(h)}</th>" for h in ("trial", "state", metric, "evaluations", "seconds", "run", *keys))
    rows = []
    for t in trials:
        values = t.user_attrs.get("values", {})
        state = t.state.name.lower()
        cells = [str(t.number), state, "-" if t.value is None else f"{t.value:.4f}", str(len(t.intermediate_values)),
                 seconds_text(t.user_attrs.get("seconds")), t.user_attrs.get("run", "-"),
                 *(short(values.get(k, "")) for k in keys)]
        rows.append(f"<tr class='{state}'>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return f"<table class='trials'><tr>{head}</tr>{''.join(rows)}</table>"


def _pruned_table(pruned, metric: str) -> str:
    rows = "".join(f"<tr><td>{t.number}</td><td>{len(t.intermediate_values)}</td><td>"
                   + ", ".join(f"{v:.4f}" for _, v in sorted(t.intermediate_values.items())) + "</td></tr>" for t in pruned)
    return (f"<table class='pruned'><tr><th>trial</th><th>evaluations before it was stopped</th>"
            f"<th>{_e(metric)} at each</th></tr>{rows}</table>")


def _importances(study) -> str:
    """Optuna's default evaluator (fANOVA) over the finished trials; a line saying why when it cannot."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():  # "too few trials": the page says so itself
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ImportError) as exc:
        return f"<p>Not available yet: {_e(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}</p>"
    if not found:
        return "<p>Not available yet: it needs finished trials with different values.</p>"
    top = max(found.values()) or 1.0
    bars = [f"<tr><th>{_e(k)}</th><td><svg width='{W // 2}' height='14' role='img'><rect width='{W // 2 * v / top:.1f}' "
            f"height='14' fill='#1f77b4'/></svg></td><td class='num'>{v:.3f}</td></tr>" for k, v in found.items()]
    return f"<table class='importance'>{''.join(bars)}</table>"


def _best_so_far(scored, minimize: bool, metric: str) -> str:
    complete = sorted((t for t in scored if t.state.name == "COMPLETE"), key=lambda t: t.number)
    if not complete:
        return "<p>No finished trial yet.</p>"
    points, best = [], None
    for t in complete:
        best = t.value if best is None else (min(best, t.value) if minimize else max(best, t.value))
        points.append((t.number, best))
    dots = [(t.number, t.value, "complete") for t in complete]
    return _svg(points, dots, "trial", metric, title=f"best {metric} so far")


def _scatter(scored, key: str, metric: str) -> str:
    dots = [(t.params[key], t.value, t.state.name.lower()) for t in scored if key in t.params]
    return _svg([], dots, key, metric, title=f"{key} against {metric}")


def _svg(line: list, dots: list, xlabel: str, ylabel: str, title: str) -> str:
    """A small plot: numbers on a linear (or, for spans over 100x, log) axis; choices evenly spaced."""
    import math

    xs = [x for x, _, _ in dots] + [x for x, _ in line]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    labels = [] if numeric else list(dict.fromkeys(json.dumps(x) if not isinstance(x, str) else x for x in xs))

    def xpos(x):
        if not numeric:
            key = json.dumps(x) if not isinstance(x, str) else x
            return labels.index(key) + 0.5, 0, len(labels)
        lo, hi = min(xs), max(xs)
        if lo > 0 and hi / lo > 100:
            return math.log10(x), math.log10(lo), math.log10(hi)
        return x, lo, hi

    ys = [y for _, y, _ in dots] + [y for _, y in line]
    ylo, yhi = min(ys), max(ys)
    if yhi == ylo:
        ylo, yhi = ylo - 0.5, yhi + 0.5

    def place(x, y):
        v, lo, hi = xpos(x)
        px = PAD + (W - 2 * PAD) * ((v - lo) / (hi - lo) if hi != lo else 0.5)
        py = H - PAD - (H - 2 * PAD) * (y - ylo) / (yhi - ylo)
        return px, py

    parts = [f"<rect x='{PAD}' y='{PAD}' width='{W - 2 * PAD}' height='{H - 2 * PAD}' fill='none' stroke='#999'/>"]
    if line:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in (place(x, y) for x, y in line))
        parts.append(f"<polyline points='{path}' fill='none' stroke='#2ca02c' stroke-width='2'/>")
    for x, y, state in dots:
        px, py = place(x, y)
        parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='4' fill='{STATE_COLOURS.get(state, '#7f7f7f')}'>"
                     f"<title>{_e(f'{x}: {y:.4f} ({state})')}</title></circle>")
    parts.append(f"<text x='{PAD}' y='{H - 8}' font-size='12'>{_e(xlabel)}: {_e(_range_text(xs) if numeric else ' | '.join(labels))}</text>")
    parts.append(f"<text x='4' y='{PAD - 8}' font-size='12'>{_e(ylabel)} from {ylo:.4g} to {yhi:.4g}</text>")
    return (f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' role='img' "
            f"aria-label='{_e(title)}'>{''.join(parts)}</svg><figcaption>{_e(title)}</figcaption></figure>")


def seconds_text(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _range_text(xs: list) -> str:
    return f"{min(xs):.4g} to {max(xs):.4g}"


def short(text: str) -> str:
    """A float to four significant digits for a table (``0.003095``); anything else as written."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return text
    return f"{number:.4g}" if any(c in text for c in ".eE") else text


def _e(value) -> str:
    return html.escape(str(value), quote=True)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
td.num {{ text-align: right; }}
tr.pruned td {{ color: #b35900; }}
tr.fail td {{ color: #b00; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
figcaption {{ font-size: 13px; color: #555; }}
.foot {{ color: #777; font-size: 12px; }}
</style></head>
<body>
{body}
</body></html>
"""
