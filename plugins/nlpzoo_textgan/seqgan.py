"""The ``seqgan`` component: a zoo language model trained further against a text classifier.

This module imports no torch: recipe parameters are read from the ``__init__`` signature here; the
torch side lives in :mod:`nlpzoo_textgan.policy`.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import nlpzoo
from nlpzoo import Range

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpzoo_training import Run

STATE, DISCRIMINATOR, GENERATOR = "seqgan.json", "discriminator.safetensors", "generator"
PRETRAINED = "pretrained-generator"  # in the run: the generator as maximum likelihood left it
DEFAULT_PRETRAIN = {"epochs": 3, "batch_size": 32, "metric": "perplexity"}
Rate = Annotated[float, Range(gt=0)]


def pretrain_settings(given: dict[str, Any] | None) -> dict[str, Any]:
    """``DEFAULT_PRETRAIN`` with the recipe's ``pretrain:`` settings, checked as a ``train:`` section is."""
    from nlpzoo_training import TrainConfig

    settings = {**DEFAULT_PRETRAIN, **(given or {})}
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    for key in settings:
        if key not in names:
            raise nlpzoo.ConfigError(f"unknown training setting {key!r}{nlpzoo.did_you_mean(str(key), names)}",
                                     f"pretrain.{key}")
    try:
        TrainConfig(**settings).check()
    except nlpzoo.ConfigError as exc:
        raise nlpzoo.ConfigError(exc.message, "pretrain." + exc.loc.removeprefix("train.")) from None
    return settings


def label_word(label: str) -> str:
    """The word a label is written as in front of its sentences: one token for word-level tokenizers."""
    return f"__label_{re.sub(r'[^0-9a-zA-Z]+', '_', str(label)).lower()}__"


class SeqGAN(nlpzoo.GAN):
    """SeqGAN (Yu et al., 2017): a language model's sampling policy trained to fool a classifier.

    1. The generator, any zoo language model with a token network (``lstm-lm``, ``transformer-lm``),
       is pretrained by maximum likelihood with its own ``fit`` (``pretrain`` settings, in the run's
       ``pretrain-generator/``), or taken trained from ``generator_run``. A copy is kept in the run as
       ``pretrained-generator/`` (a resumed run starts from it).
    2. The discriminator, a network of a registered classifier's design (``cnn-classifier`` by default)
       over the generator's tokens, learns real sentences against samples for ``discriminator_steps``
       steps (``pretrain-discriminator/``).
    3. Adversarial training on the shared loop: per batch, one discriminator step on real sentences
       against fresh samples, then one generator step: REINFORCE with the discriminator's probability
       of "real" as reward, each token's reward the mean over ``rollouts`` Monte Carlo completions;
       or, with ``relaxation: gumbel``, the discriminator's gradient through straight-through
       Gumbel-softmax samples.

    ``conditional`` writes each training sentence after a label token, so the generator learns to
    write a sentence of a given label and the discriminator judges (label, sentence) pairs.
    """

    modality = "text"

    validation_metrics = ("loss", "perplexity", "d_accuracy", "bleu4", "self_bleu4")

    def __init__(self, generator: nlpzoo.LanguageModel | None = None, generator_run: str | None = None,
                 pretrain: dict[str, Any] | None = None, pretrain_optimizer: nlpzoo.Optimizer | None = None,
                 pretrain_scheduler: nlpzoo.Scheduler | None = None,
                 discriminator: nlpzoo.Classifier | None = None,
                 discriminator_steps: Annotated[int, Range(0, 10**9)] = 100,
                 conditional: bool = False, max_length: Annotated[int, Range(2, 10**5)] = 40,
                 rollouts: Annotated[int, Range(1, 10**4)] = 4,
                 relaxation: Literal["none", "gumbel"] = "none", gumbel_temperature: Rate = 1.0,
                 mle_weight: Annotated[float, Range(0)] = 0.0, generator_lr: Rate = 1e-4, discriminator_lr: Rate = 1e-4,
                 generator_optimizer: nlpzoo.Optimizer | None = None,
                 discriminator_optimizer: nlpzoo.Optimizer | None = None,
                 temperature: Annotated[float, Range(0)] = 1.0, eval_samples: Annotated[int, Range(0, 10**6)] = 200):
        if (generator is None) == (generator_run is None):
            raise nlpzoo.ConfigError("give the generator either as a language model spec (generator: {name: lstm-lm}) "
                                     "or as a trained language-model run (generator_run: runs/lm), not both",
                                     "generator")
        self.generator, self.generator_run = generator, generator_run
        self.pretrain = pretrain_settings(pretrain)
        self.pretrain_optimizer, self.pretrain_scheduler = pretrain_optimizer, pretrain_scheduler
        self.discriminator, self.discriminator_steps = discriminator, discriminator_steps
        self.conditional, self.max_length, self.rollouts = conditional, max_length, rollouts
        self.relaxation, self.gumbel_temperature, self.mle_weight = relaxation, gumbel_temperature, mle_weight
        self.generator_lr, self.discriminator_lr = generator_lr, discriminator_lr
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        self.temperature, self.eval_samples = temperature, eval_samples
        self.lm: nlpzoo.LanguageModel | None = None  # the trained generator
        self.discriminator_net = None
        self.labels: list[str] = []
        self.generator_spec: dict | None = None  # how to rebuild a generator taken from a run

    # ------------------------------------------------------------ parts

    def _discriminator_design(self) -> nlpzoo.Classifier:
        return self.discriminator if self.discriminator is not None else nlpzoo.build({"name": "cnn-classifier"}, "classifier")

    def _need_model(self) -> None:
        if self.lm is None or self.discriminator_net is None:
            raise RuntimeError("this seqgan has not been trained or loaded")

    @property
    def tokenizer(self):
        return self.lm.tokenizer

    def token_network(self) -> "torch.nn.Module":
        try:
            return self.lm.token_network()
        except NotImplementedError:
            raise nlpzoo.ConfigError(f"the generator {type(self.lm).__name__} does not expose a token network "
                                     "(LanguageModel.token_network); use lstm-lm or transformer-lm", "generator") from None

    def prefix_ids(self, label: str | None) -> list[int]:
        """``[EOS]`` (sentences follow it in the generator's training stream), then the label's tokens."""
        tok = self.tokenizer
        return [tok.eos_id] + (tok.encode(label_word(label)) if self.conditional else [])

    def _vocabulary(self):
        from .policy import Vocabulary

        tok = self.tokenizer
        label_ids = {i for label in self.labels for i in self.prefix_ids(label)[1:]}
        banned = tuple(sorted({i for i in (tok.pad_id, tok.unk_id) if i is not None} | label_ids))
        return Vocabulary(tok.vocab_size, tok.pad_id, tok.eos_id, banned)

    def _check_labels(self) -> None:
        tok = self.tokenizer
        prefixes = {label: self.prefix_ids(label)[1:] for label in self.labels}
        if any(tok.unk_id in p or not p for p in prefixes.values()) or len({tuple(p) for p in prefixes.values()}) < len(prefixes):
            raise nlpzoo.ConfigError("conditional: true needs a generator whose tokenizer knows the label tokens "
                                     f"({', '.join(label_word(l) for l in self.labels)}); give the generator as a spec, "
                                     "so that it is pretrained here on labelled sentences", "generator_run")
        if len({len(p) for p in prefixes.values()}) > 1:
            raise nlpzoo.ConfigError("every label must be the same number of tokens long; use a word-level tokenizer",
                                     "generator.tokenizer")

    def _check_length(self) -> None:
        limit = getattr(self.token_network(), "max_positions", None)
        longest = len(self.prefix_ids(self.labels[0] if self.labels else None)) + self.max_length
        if limit is not None and longest > limit:
            raise nlpzoo.ConfigError(f"a prefix and {self.max_length} tokens make {longest}; the generator reads at most "
                                     f"{limit}", "max_length")

    def _real(self, examples: Sequence):
        from .policy import RealSentences, encode_sentences

        examples = [ex for ex in examples if not self.conditional or ex.get("label") in self.labels]
        sentences = encode_sentences(self.tokenizer, [ex["text"] for ex in examples], self.max_length)
        prefixes = [self.prefix_ids(ex.get("label") if self.conditional else None) for ex in examples]
        return RealSentences(sentences, prefixes, self.tokenizer.pad_id, self.max_length)

    def _game(self):
        from .policy import Game

        return Game(self._vocabulary(), length=self.max_length, rollouts=self.rollouts, relaxation=self.relaxation,
                    gumbel_temperature=self.gumbel_temperature, mle_weight=self.mle_weight, eval_samples=self.eval_samples)

    def decode(self, tokens: "torch.Tensor") -> list[str]:
        tok = self.tokenizer
        out = []
        for row in tokens.tolist():
            ids = row[:row.index(tok.eos_id)] if tok.eos_id in row else row
            out.append(tok.decode(ids) if tok.kind == "word" else tok.decode(ids, strip=True))
        return out

    # ------------------------------------------------------------ training

    def _labelled(self, examples: Sequence) -> list[dict]:
        if not self.conditional:
            return [{"text": ex["text"]} for ex in examples]
        return [{"text": f"{label_word(ex['label'])} {ex['text']}"} for ex in examples if ex.get("label") in self.labels]

    def _pretrained_generator(self, data: dict[str, Sequence], run: "Run") -> nlpzoo.LanguageModel:
        """The generator after maximum likelihood: trained here with its own ``fit``, or from ``generator_run``."""
        from nlpzoo_training import Run

        if self.generator_run is not None:
            handle = nlpzoo.open_run(self.generator_run)
            self.generator_spec = handle.recipe.get("model")
            return handle.model
        kept = Path(run.dir) / PRETRAINED
        if run.resume and kept.is_dir():  # pretraining finished before the run stopped: its result was kept
            return type(self.generator).load(str(kept))
        # where and how the run trains, unless pretrain: says otherwise
        inherited = {k: getattr(run.config, k) for k in ("device", "deterministic", "progress", "plots")}
        optimizer = self.pretrain_optimizer or nlpzoo.build({"name": "adamw", "lr": 2e-3}, "optimizer")
        sub = Run(Path(run.dir) / "pretrain-generator", seed=run.seed, config={**inherited, **self.pretrain},
                  resume=run.resume, optimizer=optimizer, scheduler=self.pretrain_scheduler)
        if run.is_main:
            print(f"seqgan: pretraining {type(self.generator).__name__} by maximum likelihood", flush=True)
        metrics = self.generator.fit({k: self._labelled(data.get(k) or []) for k in ("train", "validation", "test")}, sub)
        if run.is_main:
            print("seqgan: generator pretrained: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()), flush=True)
        return self.generator

    def _optimizer(self, given, lr: float, run: "Run"):
        return given or run.optimizer or nlpzoo.build({"name": "adam", "lr": lr}, "optimizer")

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from nlpzoo_training import Run, derive_seed

        from .bleu import ReferenceSet
        from .policy import AdversarialTask, DiscriminatorPretraining

        train = list(data["train"])
        if not train:
            raise nlpzoo.ConfigError("the training split is empty", "dataset")
        if self.conditional:
            if any("label" not in ex for ex in train):
                raise nlpzoo.ConfigError("conditional: true needs a labelled dataset (examples with 'text' and 'label')",
                                         "model.conditional")
            self.labels = sorted({ex["label"] for ex in train})
        validation = list(data.get("validation") or train[: max(1, len(train) // 10)])
        self.lm = self._pretrained_generator(data, run)
        if run.is_main and not (run.resume and (Path(run.dir) / PRETRAINED).is_dir()):
            self._keep_pretrained(Path(run.dir) / PRETRAINED)
        net = self.token_network()
        if self.conditional:
            self._check_labels()
        self._check_length()
        net.to(run.device)
        torch.manual_seed(derive_seed(run.seed, "discriminator"))
        self.discriminator_net = self._discriminator_design().text_network(self.tokenizer.vocab_size, 2, self.tokenizer.pad_id)
        self.discriminator_net.to(run.device)
        game = self._game()
        real = self._real(train)
        splits = {"validation": self._real(validation)}
        references = {"validation": ReferenceSet([ex["text"] for ex in validation])}
        common = dict(seed=run.seed, batch_size=run.config.batch_size, decode=self.decode)
        d_optimizer = self._optimizer(self.discriminator_optimizer, self.discriminator_lr, run)
        if self.discriminator_steps:
            cfg = run.config
            sub = Run(Path(run.dir) / "pretrain-discriminator", seed=run.seed, resume=run.resume, optimizer=d_optimizer,
                      config={"epochs": 1_000_000, "max_steps": self.discriminator_steps, "batch_size": cfg.batch_size,
                              "eval_every": self.discriminator_steps, "log_every": min(cfg.log_every, self.discriminator_steps),
                              "clip_grad_norm": cfg.clip_grad_norm, "precision": cfg.precision, "progress": cfg.progress,
                              "keep_best": False, "plots": cfg.plots, "metric": "d_accuracy", "device": cfg.device,
                              "deterministic": cfg.deterministic})
            if run.is_main:
                print(f"seqgan: pretraining the discriminator for {self.discriminator_steps} steps", flush=True)
            sub.fit(DiscriminatorPretraining(game, net, self.discriminator_net, real, splits, references, **common))
        task = AdversarialTask(game, net, self.discriminator_net, real, splits, references, **common)
        optimizers = {"generator": self._optimizer(self.generator_optimizer, self.generator_lr, run),
                      "discriminator": d_optimizer}
        if run.is_main:
            print("seqgan: adversarial training", flush=True)
        metrics = run.fit(task, optimizers=optimizers)
        net.eval()
        self.discriminator_net.eval()
        return metrics

    def _keep_pretrained(self, target: Path) -> None:
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.lm.save(str(tmp))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)

    # ------------------------------------------------------------ using it

    def _prefixes(self, n: int, labels: Sequence[str] | None):
        from .policy import pad_rows

        if self.conditional:
            if labels is None:
                labels = [self.labels[i % len(self.labels)] for i in range(n)]
            elif isinstance(labels, str):
                labels = [labels] * n
            unknown = sorted(set(labels) - set(self.labels))
            if unknown or len(labels) != n:
                raise ValueError(f"expected {n} labels among {self.labels}, got {len(labels)} with unknown {unknown}")
        else:
            labels = [None] * n
        return pad_rows([self.prefix_ids(label) for label in labels], self.tokenizer.pad_id), list(labels)

    def sample_examples(self, n: int, seed: int = 0, labels: Sequence[str] | str | None = None,
                        temperature: float | None = None) -> list[dict]:
        """``n`` generated sentences as examples, ``{"text", "label"}`` (conditional models cycle through the
        labels unless ``labels`` is given). The same for the same seed; the i-th does not depend on ``n``."""
        import torch

        from .policy import sample

        self._need_model()
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        prefixes, labels = self._prefixes(n, labels)
        generator = torch.Generator().manual_seed(seed)
        temperature = self.temperature if temperature is None else temperature
        out = []
        for start in range(0, n, 256):
            chunk = prefixes[start:start + 256]
            sentences = sample(self.token_network(), chunk, self.max_length, self._vocabulary(), generator, temperature)
            out += self.decode(sentences.tokens)
        return [{"text": t, **({"label": l} if l is not None else {})} for t, l in zip(out, labels)]

    def sample(self, n: int, seed: int = 0, labels: Sequence[str] | str | None = None,
               temperature: float | None = None) -> list[str]:
        """``n`` generated sentences; the same for the same seed (see :meth:`sample_examples`)."""
        return [ex["text"] for ex in self.sample_examples(n, seed, labels, temperature)]

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """On held-out sentences: the generator's ``loss`` (NLL per token) and ``perplexity``, the discriminator's
        accuracy on them against as many samples (``d_accuracy``), and ``bleu4`` / ``self_bleu4`` of
        ``eval_samples`` samples against them."""
        from nlpzoo_training import derive_seed

        from .bleu import ReferenceSet

        self._need_model()
        real = self._real(examples)
        if len(real) == 0:
            return {}
        return self._game().score(self.token_network(), self.discriminator_net, real,
                                  ReferenceSet([ex["text"] for ex in examples]), seed=derive_seed(0, "evaluation"),
                                  decode=self.decode)

    # ------------------------------------------------------------ files

    def save_state(self, directory: Path) -> None:
        from nlpzoo.files import atomic_write
        from nlpzoo_training import save_weights

        self._need_model()
        self.lm.save(str(directory / GENERATOR))
        save_weights(self.discriminator_net, directory / DISCRIMINATOR)
        atomic_write(directory / STATE, json.dumps({"labels": self.labels, "generator_spec": self.generator_spec},
                                                   indent=2) + "\n")

    def load_state(self, directory: Path) -> None:
        from nlpzoo_training import load_weights

        try:
            state = json.loads((directory / STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise nlpzoo.ConfigError(f"not a saved seqgan (no {STATE})", file=str(directory)) from None
        self.labels, self.generator_spec = list(state["labels"]), state.get("generator_spec")
        template = self.generator if self.generator is not None else nlpzoo.build(self.generator_spec, "language_model")
        self.lm = type(template).load(str(directory / GENERATOR))
        self.discriminator_net = self._discriminator_design().text_network(self.tokenizer.vocab_size, 2,
                                                                         self.tokenizer.pad_id)
        load_weights(self.discriminator_net, directory / DISCRIMINATOR)
        self.discriminator_net.eval()
