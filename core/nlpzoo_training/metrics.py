"""Per-label decision thresholds for label-set models, and the entity-type confusion of a tagger's report; the
scores themselves are the core's (``nlpzoo.metrics``)."""
from __future__ import annotations

import numpy as np


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


def entity_type_confusion(true: list[list[str]], predicted: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    """Words counted by (true entity type, predicted type), ``B-``/``I-`` dropped: types sorted, ``O`` last."""
    def kind(tag: str) -> str:
        return tag[2:] if tag[:2] in ("B-", "I-") else tag

    types = sorted({kind(t) for row in (*true, *predicted) for t in row} - {"O"}) + ["O"]
    index = {t: i for i, t in enumerate(types)}
    cm = [[0] * len(types) for _ in types]
    for ts, ps in zip(true, predicted):
        for t, p in zip(ts, ps):
            cm[index[kind(t)]][index[kind(p)]] += 1
    return types, cm
