"""Pretrained transformers language models that nlpzoo trains further: masked (any encoder) and causal (any decoder).

``masked-lm`` continues the pretraining of an encoder on a user's text (15% of tokens chosen, of which
80% become ``[MASK]``, 10% a random token, 10% stay; optionally whole words), so that its saved folder
is a ``pretrained:`` for ``bert-classifier``. ``causal-lm`` fine-tunes a decoder on text and generates
with its own tokenizer. Both read text as run_mlm.py and run_clm.py do: every text tokenized, the ids
concatenated and cut into blocks of ``block_size``; a streamed split is read a chunk at a time on every
pass. ``evaluate`` gives the mean loss per predicted token and its exponential (``perplexity``).
Parameters are the recipe's; torch and transformers load only inside methods.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from nlpzoo import ConfigError, LanguageModel, Range

from .adapters import check_adapter, has_adapter, saved_base
from .gguf import gguf_file
from .sources import locate

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo_training import Run

BlockSize = Annotated[int, Range(8, 10**6)]


class _PretrainedLM(LanguageModel):
    """What both models share: loading, adapters, the training task, evaluation, files."""

    initialised_from = ("pretrained",)  # a saved model is a complete Hugging Face folder
    task_type = ""  # peft's name for the model's task
    validation_metrics = ("loss", "perplexity")

    def __init__(self, pretrained: str, block_size: BlockSize = 128, batch_size_eval: Annotated[int, Range(1)] = 16,
                 adapter: dict[str, Any] | None = None, gradient_checkpointing: bool = False):
        self.adapter, self.gradient_checkpointing = check_adapter(adapter), gradient_checkpointing
        self.pretrained = pretrained
        self.gguf = gguf_file(saved_base(pretrained))  # a quantized checkpoint, converted on first use
        self.source = None if self.gguf else locate(saved_base(pretrained))
        self.block_size, self.batch_size_eval = block_size, batch_size_eval
        self.model = self.tokenizer = None

    # -- building
    def _auto_class(self):
        raise NotImplementedError

    def prepare(self) -> None:
        """Load the tokenizer and the pretrained model (with adapters and checkpointing when asked)."""
        from . import hf
        from .adapters import adapt, refuse_adapter_only

        refuse_adapter_only(self.pretrained)
        self.tokenizer = hf.load_tokenizer(self._base())
        with hf.quiet():
            model = self._auto_class().from_pretrained(self._base(), trust_remote_code=False, use_safetensors=True,
                                                       **hf.kernel_options(False))
        self.model = adapt(model, self.adapter, self.gradient_checkpointing, self.task_type)

    def _base(self) -> str:
        """The folder the pretrained weights load from (a GGUF checkpoint's dequantized, verified copy)."""
        if self.source is None:
            from .gguf import plain_folder

            self.source = str(plain_folder(self.gguf))
        return self.source

    def _require(self) -> None:
        if self.model is None:
            self.prepare()

    # -- Trainable
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        from . import lm_torch
        from .adapters import parameter_counts

        if data.get("train") is None:
            raise ConfigError(f"{type(self).__name__} needs a training split of texts", "dataset")
        self._require()
        task = lm_torch.LanguageModelTask(self, data, run)
        counts = parameter_counts(self.model)
        run.log(counts)
        return {**run.fit(task), **counts}

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """``loss`` per predicted token on ``examples`` (blocks of ``block_size``) and ``perplexity``."""
        from . import lm_torch

        self._require()
        return lm_torch.evaluate(self, lm_torch.blocks_of(self, examples))

    def save_state(self, directory: Path) -> None:
        """``save_pretrained`` form: transformers loads it as it is (with an adapter: see adapters.py)."""
        from .adapters import is_adapted, save_adapted

        self._require()
        if is_adapted(self.model):
            save_adapted(self.model, self.tokenizer, directory, None, merge=self.adapter["merge"],
                         save_plain=self._save_plain)
        else:
            self._save_plain(self.model, directory)

    def _save_plain(self, model, directory: Path) -> None:
        from . import hf

        hf.save_trained(model, self.tokenizer, directory)

    def load_state(self, directory: Path) -> None:
        from . import hf
        from .adapters import load_adapter

        if has_adapter(directory) and not (directory / "config.json").exists():  # base + adapter
            self.tokenizer = hf.load_tokenizer(str(directory / "adapter"))
            with hf.quiet():
                base = self._auto_class().from_pretrained(self._base(), trust_remote_code=False, use_safetensors=True,
                                                          **hf.kernel_options(False))
            self.model = load_adapter(base, directory)
        else:
            self.tokenizer = hf.load_tokenizer(str(directory))
            with hf.quiet():
                self.model = self._auto_class().from_pretrained(str(directory), trust_remote_code=False,
                                                                use_safetensors=True, **hf.kernel_options(False))
        self.model.eval()


class MaskedLM(_PretrainedLM):
    """Continued pretraining of any encoder (``AutoModelForMaskedLM``) on a text dataset.

    ``mask_probability`` of the tokens are chosen (never special tokens): 80% become the mask token,
    10% a random token, 10% stay as they were; the loss is on the chosen tokens only. With
    ``whole_word_masking`` a word's pieces are chosen together. The saved folder keeps the encoder's
    pretrained pooler, so ``bert-classifier`` fine-tunes it like the original (``pretrained: RUN/model``).
    ``generate`` fills masks left to right, which a masked model does poorly: it is there to look.
    """

    task_type = None  # peft has no masked-LM task type: a plain PeftModel

    def __init__(self, pretrained: str, block_size: BlockSize = 128,
                 mask_probability: Annotated[float, Range(gt=0, lt=1)] = 0.15, whole_word_masking: bool = False,
                 batch_size_eval: Annotated[int, Range(1)] = 16, adapter: dict[str, Any] | None = None,
                 gradient_checkpointing: bool = False):
        super().__init__(pretrained, block_size, batch_size_eval, adapter, gradient_checkpointing)
        self.mask_probability, self.whole_word_masking = mask_probability, whole_word_masking

    def _auto_class(self):
        from transformers import AutoModelForMaskedLM

        return AutoModelForMaskedLM

    def _save_plain(self, model, directory: Path) -> None:
        from . import lm_torch

        super()._save_plain(model, directory)
        lm_torch.keep_pooler(self.source, directory)

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> str:
        from . import lm_torch

        self._require()
        return lm_torch.fill_masks(self, prompt, max_tokens, temperature, top_k, top_p, seed)


class CausalLM(_PretrainedLM):
    """Fine-tunes or continues pretraining any decoder (``AutoModelForCausalLM``: GPT-2, Llama, Qwen,
    SmolLM) on a text dataset, and generates with the model's own tokenizer: temperature (0: greedy),
    top-k, top-p, the same text for the same seed.
    """

    task_type = "CAUSAL_LM"

    def _auto_class(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> str:
        from . import lm_torch

        self._require()
        return lm_torch.continue_text(self, prompt, max_tokens, temperature, top_k, top_p, seed)
