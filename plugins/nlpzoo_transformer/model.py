"""The ``transformer-lm`` component.

This module imports no torch: recipe parameters are read from the ``__init__`` signature here, and
the network lives in :mod:`nlpzoo_transformer.nets`, imported when a model is trained or loaded.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import nlpzoo
from nlpzoo import Range
from nlpzoo_training.tokenization import TextTokenizer, align_vectors

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpzoo_training import Run

WEIGHTS, ARCH, TOKENIZER = "model.safetensors", "architecture.json", "tokenizer.json"
INIT_STD = 0.02  # of every weight of a new network (GPT-2's initialisation)
Size = Annotated[int, Range(1, 10**6)]
Context = Annotated[int, Range(2, 10**5)]  # tokens a window holds: learned positions are a table this long


def _has(data: dict, split: str) -> bool:
    """A split that is there and not empty (a streamed split is there when it is given)."""
    value = data.get(split)
    return value is not None and (not isinstance(value, Sequence) or len(value) > 0)


class TransformerLanguageModel(nlpzoo.LanguageModel):
    """A decoder-only Transformer language model (GPT-2's design, small).

    Pre-norm blocks of causal self-attention (``torch.nn.functional.scaled_dot_product_attention``)
    and an MLP, dropout, learned or rotary positions, a decoder tied to the embedding. Trained on
    non-overlapping windows of ``block_size`` tokens; scored on sliding windows, each token with at
    least ``block_size - eval_stride`` tokens of context. Generates with temperature, top-k and
    nucleus sampling (never ``[UNK]``; it stops at ``[EOS]``).
    """

    validation_metrics = ("loss", "perplexity")

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word",
                 vocab_size: Annotated[int, Range(3, 10**8)] = 10000, min_frequency: Annotated[int, Range(0)] = 2,
                 lowercase: bool = True, d_model: Size = 256, num_layers: Annotated[int, Range(1, 1000)] = 4,
                 num_heads: Annotated[int, Range(1, 10**4)] = 4, block_size: Context = 128,
                 dropout: Annotated[float, Range(0, lt=1)] = 0.1,
                 positions: Literal["learned", "rotary"] = "learned", tie_weights: bool = True,
                 embedding_dim: Size | None = None, eval_stride: Annotated[int, Range(1, 10**5)] | None = None,
                 embedder: nlpzoo.Embedder | None = None, freeze_embeddings: bool = False):
        if d_model % num_heads:
            raise nlpzoo.ConfigError(f"expected d_model divisible by num_heads; got {d_model} and {num_heads}", "d_model")
        if positions == "rotary" and (d_model // num_heads) % 2:
            raise nlpzoo.ConfigError(f"rotary positions need an even head size; d_model / num_heads is {d_model // num_heads}",
                                     "positions")
        stride = max(block_size // 2, 1) if eval_stride is None else eval_stride
        if stride > block_size:
            raise nlpzoo.ConfigError(f"expected 1 to block_size ({block_size}) tokens, got {eval_stride}", "eval_stride")
        self.tokenizer_kind, self.vocab_size, self.min_frequency, self.lowercase = tokenizer, vocab_size, min_frequency, lowercase
        self.d_model, self.num_layers, self.num_heads, self.block_size = d_model, num_layers, num_heads, block_size
        self.dropout, self.positions, self.tie_weights = dropout, positions, tie_weights
        self.embedding_dim, self.eval_stride = embedding_dim, stride
        self.embedder, self.freeze_embeddings = embedder, freeze_embeddings
        self.tokenizer: TextTokenizer | None = None
        self.net = None
        self.arch: dict = {}  # what training decided about the network's shape, saved with the weights
        self.embedding_report: dict[str, float] = {}

    # ------------------------------------------------------------ network

    def _make_net(self, vocab_size: int, embedding_dim: int, tie_weights: bool):
        from .nets import TransformerNet

        return TransformerNet(vocab_size, self.d_model, self.num_layers, self.num_heads, self.block_size,
                              embedding_dim=embedding_dim, dropout=self.dropout, positions=self.positions,
                              tie_weights=tie_weights)

    def _need_net(self) -> None:
        if self.net is None:
            raise RuntimeError("transformer-lm has not been trained or loaded")

    def token_network(self) -> "torch.nn.Module":
        """The network itself (see :meth:`nlpzoo.LanguageModel.token_network`); ids of :attr:`tokenizer`."""
        self._need_net()
        return self.net

    # ------------------------------------------------------------ training

    def _embedding_init(self, texts: Sequence[str], run: "Run"):
        """Vectors for the tokenizer's ids from ``embedder`` (an untrained Word2Vec learns on these tokens first)."""
        if self.embedder is None:
            return None
        fit_tokens = getattr(self.embedder, "fit_tokens", None)
        if fit_tokens is not None and not getattr(self.embedder, "is_trained", True):
            fit_tokens(self.tokenizer.tokens(texts), run=run, tokenizer=self.tokenizer)  # the same tokens as the model's
        try:
            words, vectors = self.embedder.word_vectors()
        except NotImplementedError:
            raise nlpzoo.ConfigError(f"the embedder {type(self.embedder).__name__} has no word vectors to initialise "
                                     "an embedding with; use a word-level embedder such as word2vec", "model.embedder") from None
        counts = Counter(i for ids in self.tokenizer.encode_batch(texts) for i in ids)
        matrix, report = align_vectors(self.tokenizer, words, vectors, seed=run.seed, counts=counts)
        self.embedding_report = {f"embedding_{k}": float(v) for k, v in report.items()}
        if run.is_main:
            print(f"embedding initialised from {type(self.embedder).__name__}: {report['vocab_coverage']:.1%} of the "
                  f"vocabulary, {report.get('token_coverage', 0.0):.1%} of training tokens have a vector "
                  f"({'frozen' if self.freeze_embeddings else 'trainable'})")
        return matrix

    def _stream(self, examples):
        """The split's token ids, ``[EOS]`` after each text: a tensor, or a file for a streamed split."""
        from nlpzoo_training import token_ids

        return token_ids(examples, self.tokenizer)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from .nets import LanguageModelTask

        streamed = not isinstance(data["train"], Sequence)
        if streamed and self.embedder is not None:
            raise nlpzoo.ConfigError("initialising from an embedder needs the training texts in memory: drop the "
                                     "embedder or the dataset's stream: true", "model.embedder")
        texts = (ex["text"] for ex in data["train"]) if streamed else [ex["text"] for ex in data["train"]]
        self.tokenizer = TextTokenizer.train(texts, self.tokenizer_kind, vocab_size=self.vocab_size,
                                             min_frequency=self.min_frequency, lowercase=self.lowercase)
        if run.is_main:
            self.tokenizer.save(Path(run.dir) / TOKENIZER)  # the run keeps the tokenizer it trained with
        torch.manual_seed(run.seed)
        matrix = self._embedding_init(texts, run)
        width = matrix.shape[1] if matrix is not None else (self.embedding_dim or self.d_model)
        # a frozen embedding cannot also be the (trained) decoder
        tie = self.tie_weights and not (matrix is not None and self.freeze_embeddings)
        self.arch = {"vocab_size": self.tokenizer.vocab_size, "embedding_dim": width, "tie_weights": tie}
        self.net = self._make_net(**self.arch)
        if matrix is not None:
            # the vectors' directions carry over; their scale is brought to the network's own initial one, so
            # that the tied decoder's first logits are as small as those of a randomly initialised model
            scale = INIT_STD / max(float(matrix.std()), 1e-12)
            self.net.embedding.weight.data.copy_(torch.from_numpy(matrix) * scale)
            self.net.embedding.weight.requires_grad_(not self.freeze_embeddings)
        # several processes on a streamed corpus: each writes and reads its own shard of the training split
        shards = {"train": data["train"].shard(run.rank, run.world_size)} if streamed and run.world_size > 1 else {}
        streams = {k: self._stream(shards.get(k, data[k])) for k in ("train", "validation", "test") if _has(data, k)}
        task = LanguageModelTask(self.net, streams, run=run, block_size=self.block_size, eval_stride=self.eval_stride)
        task.shards_itself = bool(shards)
        metrics = run.fit(task)
        if self.embedding_report:
            run.log(self.embedding_report)
        self.net.eval()
        return metrics

    # ------------------------------------------------------------ using it

    def evaluate(self, examples: Sequence, batch_size: int = 32) -> dict[str, float]:
        """Per-token loss and perplexity of ``examples`` read as one stream (``[EOS]`` after each)."""
        from .nets import stream_nll

        self._need_net()
        nll, count = stream_nll(self.net, self._stream(examples), self.block_size, self.eval_stride, batch_size)
        loss = nll / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": float(count)}

    def next_word_distribution(self, context: str, k: int = 20) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``context``, best first (no padding, unknown or end token)."""
        import torch

        from nlpzoo_training import device_of, evaluating

        self._need_net()
        tok = self.tokenizer
        ids = ([tok.eos_id] + tok.encode(context))[-self.block_size:]
        with torch.no_grad(), evaluating(self.net):
            logits, _ = self.net(torch.as_tensor([ids], dtype=torch.long, device=device_of(self.net)))
        probs = torch.softmax(logits[0, -1].float().cpu(), dim=-1)
        probs[[i for i in (tok.pad_id, tok.unk_id, tok.eos_id) if i is not None]] = 0.0
        top = torch.topk(probs, min(k, probs.numel()))
        return [(tok.decode([int(i)], strip=tok.kind == "word"), float(p)) for p, i in zip(top.values, top.indices)
                if float(p) > 0]

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        from .nets import sample

        self._need_net()
        tok = self.tokenizer
        ids = [tok.eos_id] + tok.encode(prompt)  # documents follow [EOS] in training
        new = sample(self.net, ids, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                     seed=seed, stop_id=tok.eos_id, banned=[i for i in (tok.pad_id, tok.unk_id) if i is not None])
        if tok.kind != "word":  # characters and byte-level pieces carry their own spaces
            return prompt + tok.decode(new, strip=False)
        text = tok.decode(new)
        return f"{prompt.rstrip()} {text}".strip() if prompt.strip() else text

    # ------------------------------------------------------------ files

    def save_state(self, directory: Path) -> None:
        from nlpzoo.files import atomic_write
        from nlpzoo_training import save_weights

        self._need_net()
        self.tokenizer.save(directory / TOKENIZER)
        save_weights(self.net, directory / WEIGHTS)
        atomic_write(directory / ARCH, json.dumps(self.arch, indent=2) + "\n")

    def load_state(self, directory: Path) -> None:
        from nlpzoo_training import load_weights

        try:
            self.arch = json.loads((directory / ARCH).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise nlpzoo.ConfigError(f"not a saved transformer-lm (no {ARCH})", file=str(directory)) from None
        self.tokenizer = TextTokenizer.load(directory / TOKENIZER, self.tokenizer_kind)
        self.net = self._make_net(**self.arch)
        load_weights(self.net, directory / WEIGHTS)
        self.net.eval()
