"""One small interface per kind of component.

Each interface names the one or two methods a plugin must implement; the conveniences are built on
them here. Nothing in this module imports torch, gensim or transformers: type names from those
libraries appear only in strings.
"""
from __future__ import annotations

import math
import os
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import PluginError
from .rng import child as child_rng

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

# Saving needs the registry and ``build``, which need these interfaces: :mod:`nlpzoo.saving` installs
# itself here when nlpzoo is imported, so that the interfaces import nothing above them.
persistence = None


SAVED_SPEC = "component.json"  # what Trainable.save writes beside the plugin's own files


class Component:
    """Base of every interface: ``kind`` ties a class to its registry kind.

    The arguments a component was constructed with are kept (:func:`constructor_params`): a saved
    model is rebuilt from them, so a component's constructor is its schema.
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_keeps_params", False):
            cls.__init__ = _keeping_params(init)


def _keeping_params(init):
    import functools
    import inspect

    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "_constructor_params" not in self.__dict__:  # the outermost constructor's arguments, not a base's
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            params = dict(bound.arguments)
            params.pop(next(iter(signature.parameters)))
            for name, p in signature.parameters.items():
                if p.kind is p.VAR_KEYWORD:
                    params.update(params.pop(name, {}))
                elif p.kind is p.VAR_POSITIONAL:
                    params.pop(name, None)
            self.__dict__["_constructor_params"] = params
        init(self, *args, **kwargs)

    __init__._keeps_params = True
    return __init__


def constructor_params(component: Component) -> dict[str, Any]:
    """The keyword arguments ``component`` was built with (defaults filled in)."""
    return dict(component.__dict__.get("_constructor_params", {}))


class Trainable(Component):
    """Something ``nlpzoo train`` can fit and a run directory can bring back.

    :meth:`save` writes the constructor's arguments (``component.json``) and calls
    :meth:`save_state` for what training learned; :meth:`load` rebuilds the component from those
    arguments and calls :meth:`load_state`. A plugin implements the two ``*_state`` methods only.
    """

    #: constructor arguments that name where the initial weights came from (a pretrained folder); a saved
    #: component holds its own weights in the saved folder, so it is rebuilt with that folder in their place
    initialised_from: ClassVar[tuple[str, ...]] = ()

    #: The names of the validation metrics ``fit`` reports (shell patterns allowed: ``precision_*``), so
    #: ``nlpzoo validate`` can refuse a ``train.metric`` typo before training. Empty: not checked.
    validation_metrics: ClassVar[tuple[str, ...]] = ()

    #: True when examples may carry a second text, ``text_pair`` (sentence pairs), and ``predict`` takes
    #: ``(text, text_pair)`` tuples; ``nlpzoo train`` refuses pair data for a model that would drop it.
    reads_pairs: ClassVar[bool] = False

    @abstractmethod
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        """Train on ``data["train"]`` (selecting on ``data["validation"]``); return the final metrics."""

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """Metrics on held-out examples (``nlpzoo evaluate`` calls it with the test split)."""
        raise NotImplementedError(f"{type(self).__name__} does not evaluate")

    def save_state(self, directory: Path) -> None:
        """Write what training learned (weights as safetensors, vocabularies, labels) into ``directory``."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved: it implements no save_state")

    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save_state` wrote; the component was just rebuilt from its arguments."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded: it implements no load_state")

    def save(self, directory: str | os.PathLike) -> None:
        """``component.json`` (the constructor's arguments) plus :meth:`save_state`; no pickle anywhere."""
        persistence.save_component(self, Path(directory))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Trainable":
        """The component saved in ``directory``, rebuilt from its arguments, with its learned state."""
        return persistence.load_component(cls, Path(directory))


class Dataset(Component, ABC):
    """Examples split into ``train``, ``validation`` and ``test``, the same for the same seed.

    Text datasets give dicts with ``"text"`` and, when labelled, ``"label"`` (a string). A split
    may be a ``Sequence`` held in memory, or a stream for data larger than memory: an iterable
    that can be iterated any number of times (each pass reads the files again), with no ``len``,
    and whose ``shard(rank, world_size)`` is the part one process reads.
    """

    kind = "dataset"

    @abstractmethod
    def load(self) -> dict[str, Sequence]:
        """The splits, keyed ``train``, ``validation`` and ``test``."""

    def files(self) -> list[str]:
        """Files the data came from, so a run can record their sha256."""
        return []

    def describe(self) -> dict[str, Any]:
        """How the last :meth:`load` read and split the data (split seed and sizes, encodings), as
        JSON-able values; a run records it in ``provenance.json`` under ``dataset``."""
        return {}


class Embedder(Trainable, ABC):
    """Turns text into vectors. Word-level embedders also expose their word vectors."""

    kind = "embedder"

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> "np.ndarray":
        """One vector per text, shape ``(len(texts), dim)``."""

    def embed(self, text: str) -> "np.ndarray":
        return self.embed_batch([text])[0]

    def word_vectors(self) -> tuple[list[str], "np.ndarray"]:
        """The vocabulary and its ``(len(vocab), dim)`` matrix, used to initialise embedding layers."""
        raise NotImplementedError(f"{type(self).__name__} has no word vectors")

    def neighbors(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to ``word``."""
        words, vectors = self.word_vectors()  # an array: its own methods do the work, no library import here
        try:
            i = words.index(word)
        except ValueError:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(words)} words") from None
        unit = vectors / ((vectors * vectors).sum(axis=1, keepdims=True) ** 0.5).clip(1e-12, None)
        sims = unit @ unit[i]
        order = [int(j) for j in (-sims).argsort(kind="stable") if j != i][:k]
        return [(words[j], float(sims[j])) for j in order]

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} is pretrained and is not trained by nlpzoo")


class LanguageModel(Trainable, ABC):
    """Scores and generates text: ``evaluate`` gives ``loss`` (per token) and ``perplexity``."""

    kind = "language_model"

    @abstractmethod
    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        """``prompt`` followed by a sampled continuation; the same for the same seed.

        ``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1.0 switch those filters off.
        """

    @abstractmethod
    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """At least ``loss`` (mean negative log-likelihood per token) and ``perplexity`` on ``examples``."""

    # Optional: ``next_word_distribution(context, k) -> [(word, probability), ...]``, best first
    # (what the lm-substitution augmenter samples from).

    def token_network(self) -> "torch.nn.Module":
        """The model's own network as a next-token model over the ids of ``self.tokenizer``.

        Optional: models that train a language model further (a text GAN's policy gradient) need it.
        ``net(ids, state=None) -> (logits, state)`` with ``ids`` ``(B, T)`` and ``logits`` ``(B, T, V)``
        for the token after each position; the returned ``state`` continues those sequences when given
        with the next ids. ``net.reorder_state(state, index)`` keeps batch rows ``index`` (repeats
        allowed), ``net.max_positions`` is the longest sequence it reads (``None``: no limit).
        Training the network trains the model.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose a token network")


class Classifier(Trainable, ABC):
    """Assigns one of ``labels`` to a text. ``predict``, ``evaluate`` are built on :meth:`predict_proba`."""

    kind = "classifier"
    labels: list[str]

    @abstractmethod
    def predict_proba(self, texts: list[str]) -> "np.ndarray":
        """Probabilities, shape ``(len(texts), len(self.labels))``, rows summing to 1."""

    def text_network(self, vocab_size: int, num_classes: int, pad_id: int) -> "torch.nn.Module":
        """A new, untrained network of this classifier's design that reads another model's token ids.

        Optional: a text GAN makes its discriminator with it. ``net(ids)`` maps ids ``(B, T)``, padded
        with ``pad_id``, to logits ``(B, num_classes)``; when ``net.reads_distributions`` is true it also
        takes floats ``(B, T, vocab_size)``, one distribution over tokens per position (Gumbel-softmax).
        """
        raise NotImplementedError(f"{type(self).__name__} does not make a network for other token ids")

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``{"label": str, "probabilities": {label: p}}`` per text."""
        probs = self.predict_proba(list(texts))
        return [{"label": self.labels[int(row.argmax())], "probabilities": dict(zip(self.labels, map(float, row)))}
                for row in probs]

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """``loss`` (cross-entropy), ``accuracy``, ``macro_f1`` and per-label precision and recall."""
        return classification_scores(self, examples)[0]


def classification_scores(model: Classifier, examples: Sequence) -> tuple[dict[str, float], list[list[int]]]:
    """What :meth:`Classifier.evaluate` reports, and the confusion matrix (rows: true labels)."""
    from .metrics import classification_metrics, cross_entropy

    index = {label: i for i, label in enumerate(model.labels)}
    unknown = sorted({ex["label"] for ex in examples} - set(index), key=str)
    if unknown:
        raise ValueError(f"labels {unknown} are not among this classifier's labels {model.labels}")
    true = [index[ex["label"]] for ex in examples]
    rows = [list(map(float, row)) for row in model.predict_proba([model_input(ex) for ex in examples])] if true else []
    predicted = [max(range(len(row)), key=row.__getitem__) for row in rows]  # the first of equal maxima
    metrics, cm = classification_metrics(true, predicted, model.labels)
    return {"loss": cross_entropy([row[t] for row, t in zip(rows, true)]), **metrics}, cm


class Tagger(Trainable, ABC):
    """Labels each word of a text and finds the spans those labels make (named entities).

    Examples are ``{"tokens": [str, ...], "tags": [str, ...]}``, one tag per token, in the IOB2 scheme
    (``B-PER`` opens an entity, ``I-PER`` continues it, ``O`` is outside any). ``labels`` are the tags.
    """

    kind = "tagger"
    labels: list[str]

    @abstractmethod
    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        """One tag per token of each sentence (what the entity metrics score)."""

    @abstractmethod
    def entities(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """The entities in each raw text: ``{"label", "text", "start", "end", "score"}``, character offsets."""

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``{"entities": [...]}`` per text (what ``nlpzoo predict`` prints)."""
        return [{"entities": found} for found in self.entities(list(texts))]


class Regressor(Trainable, ABC):
    """Predicts a number for a text (a rating, a similarity score). Examples are ``{"text": str, "target": float}``."""

    kind = "regressor"

    @abstractmethod
    def predict_values(self, texts: list[str]) -> "np.ndarray":
        """One number per text, shape ``(len(texts),)``, in the units of the training targets."""

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``{"value": float}`` per text (what ``nlpzoo predict`` prints)."""
        return [{"value": float(v)} for v in self.predict_values(list(texts))]

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """``loss`` (mean squared error), ``rmse``, ``pearson`` and ``spearman`` correlation."""
        from .metrics import regression_metrics

        return regression_metrics([float(ex["target"]) for ex in examples],
                                  self.predict_values([model_input(ex) for ex in examples]))


def model_input(example: dict) -> "str | tuple[str, str]":
    """What ``predict`` takes for an example: its text, or ``(text, text_pair)`` for a sentence pair."""
    pair = example.get("text_pair")
    return example["text"] if pair is None else (example["text"], pair)


class MultiLabelClassifier(Trainable, ABC):
    """Gives a text any number of ``labels`` (topics, tags): a score per label and a threshold per label.

    Examples are ``{"text": str, "labels": [str, ...]}`` (an empty list is allowed). Not a
    :class:`Classifier`: a classifier's probabilities share one unit among the labels and it picks
    exactly one, while here each label is a yes-or-no question of its own.
    """

    kind = "multilabel_classifier"
    labels: list[str]
    #: per label, the score from which the label is given (``predict`` and ``evaluate`` use them)
    thresholds: list[float]

    @abstractmethod
    def predict_scores(self, texts: list[str]) -> "np.ndarray":
        """Independent probabilities, shape ``(len(texts), len(self.labels))``, each in [0, 1]."""

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``{"labels": [str, ...], "scores": {label: p}}`` per text: the labels whose score reaches their threshold."""
        scores = self.predict_scores(list(texts))
        return [{"labels": [l for l, p, t in zip(self.labels, row, self.thresholds) if p >= t],
                 "scores": dict(zip(self.labels, map(float, row)))} for row in scores]

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """``micro_f1``, ``macro_f1``, ``subset_accuracy``, ``f1_<label>`` and ``loss`` (binary cross-entropy)."""
        from .metrics import multilabel_metrics

        true = label_matrix([ex["labels"] for ex in examples], self.labels)
        scores = [list(map(float, row)) for row in self.predict_scores([ex["text"] for ex in examples])] if true else []
        chosen = [[p >= t for p, t in zip(row, self.thresholds)] for row in scores]
        return {"loss": binary_cross_entropy(true, scores), **multilabel_metrics(true, chosen, self.labels)}


def binary_cross_entropy(true: list[list[float]], scores: list[list[float]]) -> float:
    """The mean binary cross-entropy over every (text, label) cell, scores clipped to [1e-7, 1 - 1e-7]."""
    cells = [(y, min(max(p, 1e-7), 1 - 1e-7)) for ys, ps in zip(true, scores) for y, p in zip(ys, ps)]
    return -math.fsum(y * math.log(p) + (1 - y) * math.log(1 - p) for y, p in cells) / len(cells) if cells else 0.0


def label_matrix(label_sets: Sequence[Sequence[str]], labels: Sequence[str]) -> list[list[float]]:
    """0/1 rows, one per label set, columns in the order of ``labels``; an unknown label is an error."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({l for row in label_sets for l in row} - set(index), key=str)
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among this model's labels {list(labels)}")
    return [[float(label in chosen) for label in labels] for chosen in map(set, label_sets)]





class GAN(Trainable, ABC):
    """A generator and a discriminator trained against each other; ``sample`` draws from the generator.

    ``modality`` says what a sample is: ``"image"`` (``sample`` gives floats in [0, 1], shape
    ``(n, channels, height, width)``) or ``"text"`` (``sample`` gives a list of strings).
    """

    kind = "gan"
    modality: ClassVar[str] = "image"

    @abstractmethod
    def sample(self, n: int, seed: int = 0) -> "np.ndarray | list[str]":
        """``n`` samples; the same for the same seed."""

    def save_samples(self, samples, path: str | os.PathLike) -> str:
        """Write ``samples`` to ``path`` (text: one per line); what ``nlpzoo sample -o`` reports."""
        if self.modality != "text":
            raise NotImplementedError(f"{type(self).__name__} does not say how to write {self.modality} samples")
        from .yamlio import atomic_write

        atomic_write(path, "".join(f"{s}\n" for s in samples))
        return f"wrote {len(samples)} texts to {path}"


class Augmenter(Component, ABC):
    """Text in, text out. The random stream of each text depends only on the seed and the text."""

    kind = "augmenter"

    @abstractmethod
    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        """One augmented version of ``text`` and the names of the operations applied."""

    def augment(self, texts: list[str], seed: int = 0) -> list[str]:
        return [self.augment_one(t, rng_for(seed, t))[0] for t in texts]

    def explain(self, texts: list[str], seed: int = 0) -> list[tuple[str, list[str]]]:
        return [self.augment_one(t, rng_for(seed, t)) for t in texts]


class SequentialAugmenter(Augmenter):
    """Augmenters applied one after the other, each drawing from its own generator split off the text's.

    A recipe's ``augment:`` list and the ``sequential`` augmenter are this one implementation, so both
    give the same texts for the same seed; a child's draws never shift those of the children after it.
    """

    def __init__(self, augmenters: list[Augmenter]):
        self.augmenters = list(augmenters)

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        ops: list[str] = []
        for augmenter in self.augmenters:
            text, applied = augmenter.augment_one(text, child_rng(rng))
            ops += applied
        return text, ops


def rng_for(seed: int, text: str, salt: str = "") -> random.Random:
    """A generator seeded from (seed, text): same output whatever the batch size or order.

    A ``random.Random`` whose draws come from BLAKE2b (:mod:`nlpzoo.rng`): seeding a Mersenne
    Twister costs as much as a whole word swap, one hash is a tenth of that.
    """
    from .rng import seeded

    return seeded(seed, text, salt)


class Optimizer(Component, ABC):
    """Makes a ``torch.optim.Optimizer`` once the parameters exist."""

    kind = "optimizer"

    @abstractmethod
    def create(self, params) -> "torch.optim.Optimizer":
        """``params``: parameters or parameter groups, as torch.optim takes them."""


class Scheduler(Component, ABC):
    """Makes a learning-rate scheduler once the optimizer and the total number of steps are known."""

    kind = "scheduler"
    #: "step": stepped after every optimizer step; "metric": stepped with a validation metric.
    steps_on: ClassVar[str] = "step"

    @abstractmethod
    def create(self, optimizer: "torch.optim.Optimizer", total_steps: int) -> "torch.optim.lr_scheduler.LRScheduler":
        """A torch scheduler for ``optimizer`` over ``total_steps`` optimizer steps."""

    def checked_create(self, optimizer: "torch.optim.Optimizer", total_steps: int):
        """:meth:`create`, refused with the contract when it returns something that cannot ``step()``."""
        made = self.create(optimizer, total_steps)
        if not callable(getattr(made, "step", None)):
            raise PluginError(f"scheduler {type(self).__name__}.create returned a {type(made).__name__}, not a torch "
                              "scheduler: create(optimizer, total_steps) must return an object with step(), "
                              "such as torch.optim.lr_scheduler.LambdaLR(optimizer, ...)")
        return made





class Callback(Component):
    """Hooks into training; every method is optional."""

    kind = "callback"

    def on_step(self, run: "Run", step: int, logs: dict[str, float]) -> None: ...

    def on_evaluate(self, run: "Run", step: int, metrics: dict[str, float]) -> None: ...

    def on_end(self, run: "Run", metrics: dict[str, float]) -> None: ...


INTERFACES: dict[str, type[Component]] = {
    c.kind: c for c in (Dataset, Embedder, LanguageModel, Classifier, MultiLabelClassifier, Regressor, Tagger, GAN, Augmenter, Optimizer, Scheduler, Callback)
}
