"""The scores every model of a kind reports, one definition each, so that their numbers mean the same thing.

Plain Python: predictions may be lists, numpy arrays or tensors (anything that iterates), and the core
needs no numerical library to score a model.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["classification_metrics", "cross_entropy", "multilabel_metrics", "regression_metrics"]


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int],
                           labels: Sequence[str]) -> tuple[dict[str, float], list[list[int]]]:
    """Accuracy, macro-F1, per-label precision and recall, and the confusion matrix (rows: true label).

    Macro-F1 averages over the labels that occur among the true or the predicted labels, as
    scikit-learn does; a label that never occurs would otherwise pull the mean down by a zero.
    """
    k = len(labels)
    cm = [[0] * k for _ in range(k)]
    for true, predicted in zip(y_true, y_pred):
        cm[int(true)][int(predicted)] += 1
    per_label, f1s = {}, []
    for i, label in enumerate(labels):
        tp, predicted, actual = cm[i][i], sum(row[i] for row in cm), sum(cm[i])
        precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
        per_label[f"precision_{label}"], per_label[f"recall_{label}"] = precision, recall
        if predicted or actual:
            f1s.append(_ratio(2 * precision * recall, precision + recall))
    accuracy = _ratio(sum(cm[i][i] for i in range(k)), max(1, sum(map(sum, cm))))
    return {"accuracy": accuracy, "macro_f1": _mean(f1s), **per_label}, cm


def regression_metrics(true: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Mean squared error (``loss``), its root, and Pearson and Spearman (rank, ties averaged) correlation."""
    y, p = [float(v) for v in true], [float(v) for v in predicted]
    mse = _mean([(a - b) ** 2 for a, b in zip(y, p)])
    paired = len(y) > 1
    return {"loss": mse, "rmse": mse ** 0.5, "pearson": _pearson(y, p) if paired else 0.0,
            "spearman": _pearson(_ranks(y), _ranks(p)) if paired else 0.0}


def multilabel_metrics(true, predicted, labels: Sequence[str]) -> dict[str, float]:
    """Micro and macro F1, subset accuracy (the whole label set right) and ``f1_<label>`` for 0/1 matrices.

    ``true`` and ``predicted`` have one row per text and one column per label. A label that is neither
    true nor predicted anywhere has F1 0 and is left out of the macro mean, as in :func:`classification_metrics`.
    """
    y = [[bool(v) for v in row] for row in true]
    p = [[bool(v) for v in row] for row in predicted]
    k = len(labels)
    tp, fp, fn = [0] * k, [0] * k, [0] * k
    for ys, ps in zip(y, p):
        for j, (a, b) in enumerate(zip(ys, ps)):
            tp[j], fp[j], fn[j] = tp[j] + (a and b), fp[j] + (b and not a), fn[j] + (a and not b)
    f1 = [_ratio(2 * t, 2 * t + f + n) for t, f, n in zip(tp, fp, fn)]
    seen = [score for score, t, f, n in zip(f1, tp, fp, fn) if t + f + n]
    metrics = {"micro_f1": _ratio(2 * sum(tp), 2 * sum(tp) + sum(fp) + sum(fn)), "macro_f1": _mean(seen),
               "subset_accuracy": _mean([float(ys == ps) for ys, ps in zip(y, p)])}
    metrics.update({f"f1_{label}": f1[j] for j, label in enumerate(labels)})
    return metrics


def cross_entropy(probabilities: Sequence[float]) -> float:
    """The mean negative log of the probabilities given to the true labels (each at least 1e-12); 0 for none."""
    return _mean([-math.log(max(float(p), 1e-12)) for p in probabilities])


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if len(values) else 0.0


def _pearson(a: list[float], b: list[float]) -> float:
    ma, mb = _mean(a), _mean(b)
    a, b = [v - ma for v in a], [v - mb for v in b]
    norm = math.sqrt(math.fsum(v * v for v in a) * math.fsum(v * v for v in b))
    return math.fsum(x * y for x, y in zip(a, b)) / norm if norm > 0 else 0.0


def _ranks(values: list[float]) -> list[float]:
    """1-based ranks; tied values share their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start:end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks
