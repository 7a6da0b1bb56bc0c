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
