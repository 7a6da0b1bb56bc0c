"""What every text dataset here shares: seeded (optionally stratified) splits, limits, and a record of both."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nlpzoo import ConfigError, Dataset

from .sources import DataError, check_positive

SPLITS = ("train", "validation", "test")


def check_fractions(validation: float, test: float) -> None:
    for key, fraction in (("validation", validation), ("test", test)):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            raise ConfigError(f"expected a fraction in [0, 1), got {fraction!r}", key)
    if validation + test >= 1:
        raise ConfigError(f"validation + test must leave something to train on, got {validation} + {test}", "validation")


def sample(items: Sequence, n: int | None, stream: str) -> list:
    """``n`` items drawn by the random stream named ``stream``, kept in order (see ``seeded_sample``)."""
    from nlpzoo.files import seeded_sample

    return [items[i] for i in seeded_sample(len(items), n, stream)]


def label_counts(splits: dict[str, Sequence]) -> dict[str, dict[str, int]] | None:
    counts = {name: Counter(ex["label"] for ex in rows if "label" in ex) for name, rows in splits.items()}
    labels = sorted(set().union(*counts.values()), key=str)
    if not labels:
        return None
    return {label: {name: counts[name][label] for name in splits} for label in labels}


class TextDataset(Dataset):
    """A list of examples cut into splits by seed; subclasses implement :meth:`examples`.

    ``stratify`` (readers: on) keeps each label's share the same in every split. ``limit`` samples
    that many examples before splitting; ``train_limit`` samples the training split after it.
    :meth:`describe` says how the last :meth:`load` split the data, for the run's provenance.
    """

    seed: int = 0
    validation: float = 0.1
    test: float = 0.1
    limit: int | None = None
    train_limit: int | None = None
    stratify: bool = False
    _record: dict | None = None

    def check_common(self) -> None:
        """The checks every constructor runs, so that ``nlpzoo validate`` catches what ``load`` would."""
        check_fractions(self.validation, self.test)
        check_positive(self.limit, "limit")
        check_positive(self.train_limit, "train_limit")

    def examples(self) -> list[dict]:
        raise NotImplementedError

    def load(self) -> dict[str, list[dict]]:
        examples = sample(self.examples(), self.limit, f"limit-{self.seed}")
        splits = self.split(examples, self.validation, self.test)
        splits["train"] = sample(splits["train"], self.train_limit, f"train-limit-{self.seed}")
        self._record = self.record(splits)
        return splits

    def split(self, examples: list[dict], validation: float, test: float) -> dict[str, list[dict]]:
        from nlpzoo.files import seeded_split

        labels = [ex.get("label") for ex in examples] if self.stratify else None
        if labels is not None and None in labels:
            labels = None
        index = seeded_split(len(examples), self.seed, validation, test, labels=labels)
        return {name: [examples[i] for i in index[name]] for name in SPLITS}

    def record(self, splits: dict[str, Sequence], **extra) -> dict:
        stratified = self.stratify and any("label" in ex for ex in splits["train"][:1])
        out = {"split": {"method": "stratified" if stratified else "seeded", "seed": self.seed,
                         "validation": self.validation, "test": self.test,
                         "sizes": {name: len(rows) for name, rows in splits.items()}}}
        if self.limit is not None:
            out["split"]["limit"] = self.limit
        if self.train_limit is not None:
            out["split"]["train_limit"] = self.train_limit
        counts = label_counts(splits)
        if counts is not None:
            out["labels"] = counts
        out.update(extra)
        return out

    def describe(self) -> dict:
        """How the last :meth:`load` read and split the data (empty before it)."""
        return dict(self._record or {})


def check_labels_trained(splits: dict[str, Sequence], where: str) -> None:
    """A label seen in validation or test but never in training is an error: no model can learn it."""
    train = {ex.get("label") for ex in splits["train"]}
    for name in ("validation", "test"):
        missing = sorted({ex["label"] for ex in splits[name] if "label" in ex} - train, key=str)
        if missing:
            total = Counter(ex.get("label") for rows in splits.values() for ex in rows)
            few = ", ".join(f"{label!r} ({total[label]} example{'s' * (total[label] != 1)})" for label in missing[:5])
            raise DataError(f"the {name} split has labels the training split lacks: {few}; give each label more "
                            "examples, or drop them", file=where)
