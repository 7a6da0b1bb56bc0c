"""Classification metrics: one definition for every classifier, agreeing with scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest

from nlpzoo.metrics import classification_metrics


def test_a_small_case_worked_by_hand():
    metrics, cm = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert cm == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)  # per-label F1: 0.5, 0.8, 0.0
    assert metrics["precision_b"] == pytest.approx(2 / 3) and metrics["recall_b"] == 1.0
    assert metrics["precision_c"] == 0.0 and metrics["recall_c"] == 0.0


def test_agrees_with_scikit_learn_including_labels_that_never_occur():
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    labels = ["w", "x", "y", "z"]
    for _ in range(20):
        y_true = rng.integers(0, 3, size=50)  # "z" never occurs, and is never predicted
        y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 3, size=50))
        metrics, _ = classification_metrics(y_true, y_pred, labels)
        assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert metrics["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
        per_label_p = precision_score(y_true, y_pred, average=None, labels=[0, 1, 2, 3], zero_division=0)
        per_label_r = recall_score(y_true, y_pred, average=None, labels=[0, 1, 2, 3], zero_division=0)
        assert [metrics[f"precision_{l}"] for l in labels] == pytest.approx(per_label_p.tolist())
        assert [metrics[f"recall_{l}"] for l in labels] == pytest.approx(per_label_r.tolist())
