"""Small PNG plots (matplotlib, imported only when a plot is drawn).

Labels, titles and legends come from data (class names such as ``$$``, run names): each is drawn as
plain text, never parsed as math, and cut to :data:`MAX_LABEL` characters so that one huge label
cannot stall the layout.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

#: the most characters of a label, title or legend entry drawn (the rest is cut, with an ellipsis)
MAX_LABEL = 60


def plain(text) -> str:
    """``text`` as matplotlib shows it literally: ``$`` escaped (no math text), controls and length bounded."""
    from nlpzoo.files import one_line

    text = one_line(str(text))
    if len(text) > MAX_LABEL:
        text = text[:MAX_LABEL - 1] + "\u2026"
    return text.replace("$", r"\$")


@contextlib.contextmanager
def quiet_plots():
    """Draw without matplotlib writing to stderr; yields the list of what it warned about."""
    import logging
    import warnings

    heard: list[str] = []
    logger = logging.getLogger("matplotlib")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield heard
        heard += sorted({str(w.message).splitlines()[0][:200] for w in caught})
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def plot_curves(curves: dict[str, list[float]], path: str | Path, *, title: str = "", xlabel: str = "step",
                xs: dict[str, list[float]] | None = None, logy: bool = False) -> None:
    """One line per curve, written atomically to ``path``."""
    save_figure(_curves_figure(curves, title=title, xlabel=xlabel, xs=xs, logy=logy), path)


def curves_png(curves: dict[str, list[float]], *, title: str = "", xlabel: str = "step",
               xs: dict[str, list[float]] | None = None, logy: bool = False) -> bytes:
    """What :func:`plot_curves` writes, as PNG bytes (for a command that writes to standard output)."""
    return figure_png(_curves_figure(curves, title=title, xlabel=xlabel, xs=xs, logy=logy))


def _curves_figure(curves, *, title, xlabel, xs, logy):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, ys in curves.items():
        x = (xs or {}).get(label) or list(range(len(ys)))
        ax.plot(x, ys, label=plain(label), marker="o" if len(ys) <= 20 else None)  # a lone point still shows
    ax.set_xlabel(plain(xlabel))
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(plain(title))
    if len(curves) > 1:
        ax.legend()
    return fig


def plot_confusion(cm, labels, path: str | Path, title: str = "confusion matrix") -> None:
    """A confusion matrix (rows: true labels, columns: predictions) as a PNG, written atomically."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=np.int64).reshape(len(labels), len(labels))
    n = len(labels)
    shown = [plain(label) for label in labels]
    fig, ax = plt.subplots(figsize=(1.2 * n + 2.5, 1.2 * n + 2), dpi=100)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), shown, rotation=45, ha="right")
    ax.set_yticks(range(n), shown)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(plain(title))
    top = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    save_figure(fig, path)


def plot_scatter(true, predicted, path: str | Path, title: str = "predicted against true") -> None:
    """Each example's predicted value against its true one, with the diagonal of perfect predictions, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(true, predicted, s=6, alpha=0.4)
    low, high = min(*true, *predicted), max(*true, *predicted)
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    save_figure(fig, path)


def format_confusion(cm, labels, title: str = "") -> str:
    """The confusion matrix as text: rows are true labels, columns predictions."""
    corner = "true \\ pred"
    first = max(len(corner), *(len(str(l)) for l in labels)) + 2
    width = max(6, *(len(str(l)) for l in labels), *(len(str(v)) for row in cm for v in row))
    head = corner.ljust(first) + " ".join(str(l).rjust(width) for l in labels)
    rows = [str(l).ljust(first) + " ".join(str(v).rjust(width) for v in row) for l, row in zip(labels, cm)]
    return "\n".join(([f"confusion matrix ({title})"] if title else []) + [head] + rows)


def save_figure(fig, path: str | Path) -> None:
    """Write a matplotlib figure as PNG atomically, and close it."""
    from nlpzoo.files import atomic_write

    atomic_write(path, figure_png(fig))


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    try:
        with quiet_plots():
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()
