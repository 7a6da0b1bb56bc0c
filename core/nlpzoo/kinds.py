"""One small interface per kind of component.

Each interface names the one or two methods a plugin must implement; the conveniences are built on
them here. Nothing in this module imports torch, gensim or transformers: type names from those
libraries appear only in strings.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from .training.run import Run


class Component:
    """Base of every interface: ``kind`` ties a class to its registry kind."""

    kind: ClassVar[str] = ""


class Trainable(Component):
    """Something ``nlpzoo train`` can fit and a run directory can bring back."""

    @abstractmethod
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        """Train on ``data["train"]`` (selecting on ``data["validation"]``); return the final metrics."""

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """Metrics on held-out examples (``nlpzoo evaluate`` calls it with the test split)."""
        raise NotImplementedError(f"{type(self).__name__} does not evaluate")

    def save(self, directory: str) -> None:
        """Write everything :meth:`load` needs into ``directory`` (safetensors and JSON, no pickle)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    @classmethod
    def load(cls, directory: str) -> "Trainable":
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")


class Dataset(Component, ABC):
    """Examples split into ``train``, ``validation`` and ``test``, the same for the same seed.

    Text datasets give dicts with ``"text"`` and, when labelled, ``"label"`` (a string).
    """

    kind = "dataset"

    @abstractmethod
    def load(self) -> dict[str, Sequence]:
        """The splits, keyed ``train``, ``validation`` and ``test``."""

    def files(self) -> list[str]:
        """Files the data came from, so a run can record their sha256."""
        return []


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
        import numpy as np

        words, vectors = self.word_vectors()
        try:
            i = words.index(word)
        except ValueError:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(words)} words") from None
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sims = unit @ unit[i]
        order = [j for j in np.argsort(-sims) if j != i][:k]
        return [(words[j], float(sims[j])) for j in order]

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} is pretrained and is not trained by nlpzoo")


class LanguageModel(Trainable, ABC):
    """A trainable text model: a language model that scores and generates text, or a classifier."""

    kind = "language_model"

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """For classifiers: ``{"label": str, "probabilities": {label: p}}`` per text."""
        raise NotImplementedError(f"{type(self).__name__} is not a classifier; try 'nlpzoo generate'")

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        """For language models: a continuation of ``prompt``, the same for the same seed."""
        raise NotImplementedError(f"{type(self).__name__} does not generate text; try 'nlpzoo predict'")


class GAN(Trainable, ABC):
    """A generator and a discriminator trained against each other; ``sample`` draws images."""

    kind = "gan"
    generator: "torch.nn.Module"
    discriminator: "torch.nn.Module"

    @abstractmethod
    def sample(self, n: int, seed: int = 0) -> "np.ndarray":
        """``n`` images as floats in [0, 1], shape ``(n, channels, height, width)``; the same for the same seed."""


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

    def curve(self, total_steps: int, base_lr: float = 1.0) -> list[float]:
        """The learning rate at each step, as the trainer would see it (metric-driven ones: flat metric)."""
        import torch

        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=base_lr)
        sched = self.create(opt, total_steps)
        lrs = []
        for _ in range(total_steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step(1.0) if self.steps_on == "metric" else sched.step()
        return lrs


class Callback(Component):
    """Hooks into training; every method is optional."""

    kind = "callback"

    def on_step(self, run: "Run", step: int, logs: dict[str, float]) -> None: ...

    def on_evaluate(self, run: "Run", step: int, metrics: dict[str, float]) -> None: ...

    def on_end(self, run: "Run", metrics: dict[str, float]) -> None: ...


INTERFACES: dict[str, type[Component]] = {
    c.kind: c for c in (Dataset, Embedder, LanguageModel, GAN, Augmenter, Optimizer, Scheduler, Callback)
}
