"""Classification and regression metrics shared by every model of a kind, so their numbers mean the same thing."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int],
                           labels: Sequence[str]) -> tuple[dict[str, float], np.ndarray]:
    """Accuracy, macro-F1, per-label precision and recall, and the confusion matrix (rows: true label).

    Macro-F1 averages over the labels that occur among the true or the predicted labels, as
    scikit-learn does; a label that never occurs would otherwise pull the mean down by a zero.
    """
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    seen = (predicted + actual) > 0
    metrics = {"accuracy": float(tp.sum() / max(1, cm.sum())), "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0}
    for i, label in enumerate(labels):
        metrics[f"precision_{label}"] = float(precision[i])
        metrics[f"recall_{label}"] = float(recall[i])
    return metrics, cm


def regression_metrics(true: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Mean squared error (``loss``), its root, and Pearson and Spearman (rank, ties averaged) correlation."""
    import numpy as np

    y, p = np.asarray(true, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    mse = float(np.mean((y - p) ** 2)) if len(y) else 0.0

    def pearson(a, b) -> float:
        a, b = a - a.mean(), b - b.mean()
        norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return float((a * b).sum() / norm) if norm > 0 else 0.0

    def ranks(a):
        _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
        return (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # ties share their mean rank

    return {"loss": mse, "rmse": mse ** 0.5, "pearson": pearson(y, p) if len(y) > 1 else 0.0,
            "spearman": pearson(ranks(y), ranks(p)) if len(y) > 1 else 0.0}


def multilabel_metrics(true: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Micro and macro F1, subset accuracy (the whole label set right) and ``f1_<label>`` for 0/1 matrices.

    ``true`` and ``predicted`` have shape ``(texts, labels)``. A label that is neither true nor predicted
    anywhere has F1 0 and is left out of the macro mean, as in :func:`classification_metrics`.
    """
    y, p = np.asarray(true, dtype=bool), np.asarray(predicted, dtype=bool)
    tp, fp, fn = (y & p).sum(0), (~y & p).sum(0), (y & ~p).sum(0)
    f1 = _f1(tp, fp, fn)
    seen = (tp + fp + fn) > 0
    metrics = {"micro_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
               "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
               "subset_accuracy": float((y == p).all(1).mean()) if len(y) else 0.0}
    metrics.update({f"f1_{label}": float(f1[i]) for i, label in enumerate(labels)})
    return metrics


def _f1(tp, fp, fn):
    tp, wrong = np.asarray(tp, dtype=float), np.asarray(fp + fn, dtype=float)
    return np.divide(2 * tp, 2 * tp + wrong, out=np.zeros_like(tp), where=(2 * tp + wrong) > 0)


def best_thresholds(true: np.ndarray, scores: np.ndarray, default: float = 0.5) -> list[float]:
    """Per label, the score threshold that maximises that label's F1 on ``(true, scores)``.

    Candidates are the midpoints between neighbouring distinct scores (and ``default``); ties go to the
    candidate nearest ``default``, so a label with no positive example keeps ``default`` unless a higher
    one avoids false positives.
    """
    y, s = np.asarray(true, dtype=bool), np.asarray(scores, dtype=np.float64)
    chosen = []
    for j in range(y.shape[1]):
        distinct = np.unique(s[:, j])
        candidates = np.unique(np.concatenate([[default], (distinct[1:] + distinct[:-1]) / 2,
                                               distinct[-1:] + 1e-6 if len(distinct) else []]))
        predicted = s[:, j][None, :] >= candidates[:, None]  # (candidates, texts)
        tp = (predicted & y[:, j]).sum(1)
        wrong = (predicted & ~y[:, j]).sum(1) + (~predicted & y[:, j]).sum(1)
        f1 = np.divide(2 * tp, 2 * tp + wrong, out=np.ones(len(candidates)), where=(2 * tp + wrong) > 0)
        best = np.flatnonzero(f1 == f1.max())
        chosen.append(float(candidates[best[np.argmin(np.abs(candidates[best] - default))]]))
    return chosen
