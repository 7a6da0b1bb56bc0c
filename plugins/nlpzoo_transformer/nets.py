"""The torch side of ``transformer-lm``: the network, the task the shared loop trains, scoring, sampling.

A decoder-only Transformer in the style of GPT-2, meant to be read top to bottom: token embedding
(plus learned positions), a stack of pre-norm blocks (causal self-attention, then an MLP, each added
back to the residual stream), a final layer norm and a decoder that shares the embedding matrix.
Imported only when a model is trained, loaded or used (``model.py`` stays torch-free).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlpzoo_training import TokenFile, TorchTask, device_of, evaluating

#: what a network returns as ``state``: per layer, the keys and values of every position read so far
KVCache = tuple[tuple[torch.Tensor, torch.Tensor], ...]


# -- positions -----------------------------------------------------------------------------------
class Rotary(nn.Module):
    """Rotary position embedding (Su et al., 2021): queries and keys rotated by their position.

    Pairs of channels ``(i, i + D/2)`` turn by ``position * base**(-2i/D)``, so a query-key dot
    product depends on the distance between their positions only.
    """

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary positions need an even head size, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (D/2,)
        angles = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)  # (P, D/2)
        # not saved with the weights: recomputed from the sizes
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        cos, sin = self.cos[positions].to(x.dtype), self.sin[positions].to(x.dtype)  # (T, D/2)
        first, second = x.chunk(2, dim=-1)  # (B, H, T, D/2) each
        return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


# -- blocks --------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the positions before it."""

    def __init__(self, d_model: int, num_heads: int, dropout: float, rotary: Rotary | None):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.attention_dropout = dropout
        self.residual_dropout = nn.Dropout(dropout)
        self.rotary = rotary

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.num_heads, C // self.num_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if self.rotary is not None:
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        past = 0
        if cache is not None:
            past = cache[0].shape[2]
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)  # (B, H, past + T, D)
        mask = None
        if past and T > 1:  # new queries see every cached position and the new ones up to their own
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past == 0 and T > 1,
                                           dropout_p=self.attention_dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.residual_dropout(self.proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(d_model, 4 * d_model)
        self.down = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-norm: each sub-layer reads a normalised copy of the residual stream and adds its output to it."""

    def __init__(self, d_model: int, num_heads: int, dropout: float, rotary: Rotary | None):
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, num_heads, dropout, rotary)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, dropout)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache=None):
        attended, cache = self.attention(self.attention_norm(x), positions, cache)
        x = x + attended
        return x + self.mlp(self.mlp_norm(x)), cache


# -- the network ---------------------------------------------------------------------------------
class TransformerNet(nn.Module):
    """Token ids in, next-token logits out: ``net(ids, state=None) -> (logits, state)``.

    ``state`` holds every layer's keys and values of the positions read so far, so a sequence can be
    continued one token at a time without reading its beginning again. When the embedding (for
    instance Word2Vec vectors) is narrower or wider than ``d_model``, linear maps go into and out of
    the model's width, so the decoder can still be the embedding matrix.
    """

    def __init__(self, vocab_size: int, d_model: int, num_layers: int, num_heads: int, block_size: int, *,
                 embedding_dim: int | None = None, dropout: float = 0.1, positions: str = "learned",
                 tie_weights: bool = True):
        super().__init__()
        embedding_dim = embedding_dim or d_model
        self.max_positions = block_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.embedding_in = nn.Linear(embedding_dim, d_model, bias=False) if embedding_dim != d_model else None
        self.position_embedding = nn.Embedding(block_size, d_model) if positions == "learned" else None
        rotary = Rotary(d_model // num_heads, block_size) if positions == "rotary" else None
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, num_heads, dropout, rotary) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(d_model)
        width = embedding_dim if tie_weights else d_model
        self.embedding_out = nn.Linear(d_model, width, bias=False) if width != d_model else None
        self.decoder = nn.Linear(width, vocab_size, bias=False)
        self._init_weights(num_layers)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def _init_weights(self, num_layers: int) -> None:
        """GPT-2's: N(0, 0.02) everywhere, residual projections scaled down by the depth, zero biases."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "norm" in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * num_layers) if name.endswith(("proj.weight", "down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids: torch.Tensor, state: KVCache | None = None):
        B, T = ids.shape
        past = 0 if state is None else state[0][0].shape[2]
        if past + T > self.max_positions:
            raise ValueError(f"the sequence is {past + T} tokens long; this network reads at most {self.max_positions}")
        positions = torch.arange(past, past + T, device=ids.device)  # (T,)
        x = self.embedding(ids)  # (B, T, E)
        if self.embedding_in is not None:
            x = self.embedding_in(x)  # (B, T, C)
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)
        x = self.dropout(x)
        caches = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, positions, None if state is None else state[i])
            caches.append(cache)
        x = self.final_norm(x)  # (B, T, C)
        if self.embedding_out is not None:
            x = self.embedding_out(x)  # (B, T, E)
        return self.decoder(x), tuple(caches)  # (B, T, V)

    @staticmethod
    def reorder_state(state: KVCache, index: torch.Tensor) -> KVCache:
        """The cached keys and values of batch rows ``index`` (rows may repeat: roll-outs, beams)."""
        return tuple((k.index_select(0, index), v.index_select(0, index)) for k, v in state)


# -- training ------------------------------------------------------------------------------------
def read_span(stream, start: int, count: int) -> torch.Tensor:
    """``count`` ids of ``stream`` from ``start`` (fewer at its end): a view of a tensor, or read from a
    :class:`~nlpzoo_training.TokenFile` (a streamed split, on disk)."""
    if isinstance(stream, TokenFile):
        return torch.from_numpy(stream.read(start, count))
    return stream[start:start + count]


class Windows(Sequence):
    """The training batches of one epoch, each made when the loop asks for it: ``(inputs, targets)``.

    Only the shuffled window starts are held (8 bytes a window); the tokens of a batch are read from
    the stream, in memory or on disk, when the batch is made.
    """

    def __init__(self, stream, starts: np.ndarray, length: int, batch_size: int):
        self.stream, self.starts, self.length, self.batch_size = stream, starts, length, batch_size

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        chunk = self.starts[i * self.batch_size:(i + 1) * self.batch_size]
        both = torch.stack([read_span(self.stream, int(s), self.length + 1) for s in chunk])  # (B, T + 1)
        return both[:, :-1], both[:, 1:]


class LanguageModelTask(TorchTask):
    """Windows of ``block_size`` tokens cut from one token stream per split.

    Each epoch cuts the training stream at a seeded offset into windows that do not overlap and
    shuffles them (seeded by the run's seed and the epoch), so every token is read once an epoch
    and a resumed run sees the same batches. Validation and test streams are scored by sliding
    windows (:func:`stream_nll`). A stream is a tensor of ids or, for a streamed split, a
    :class:`~nlpzoo_training.TokenFile` read a batch at a time.
    """

    def __init__(self, net: TransformerNet, streams: dict, *, run, block_size: int, eval_stride: int):
        self.nets = {"model": net}
        self.streams = streams
        self.block_size, self.eval_stride = block_size, eval_stride
        self.seed = run.seed
        self.batch_size_ = run.config.batch_size
        self.eval_batch_size = run.config.eval_batch_size or 2 * run.config.batch_size

    def train_batches(self, epoch: int) -> Windows:
        stream = self.streams["train"]
        n = len(stream)
        rng = np.random.default_rng([self.seed, epoch])
        offset = int(rng.integers(0, self.block_size))
        starts = np.arange(offset, n - self.block_size - 1 + 1, self.block_size)
        if len(starts) == 0:  # a stream shorter than a window: one window from the start
            starts = np.zeros(1, dtype=np.int64)
        return Windows(stream, starts[rng.permutation(len(starts))], min(self.block_size, n - 1), self.batch_size_)

    def training_step(self, batch, stage: str):
        x, y = batch
        logits, _ = self.nets["model"](x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        return loss, {}

    def evaluate(self, split: str) -> dict[str, float]:
        nll, count = stream_nll(self.nets["model"], self.streams[split], self.block_size, self.eval_stride,
                                self.eval_batch_size)
        loss = nll / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def score_windows(n: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """``(start, end, first)`` windows that score each next token of an ``n``-token stream exactly once.

    Window ``stream[start:end]`` predicts ``stream[start + 1:end + 1]``; only the predictions from
    position ``first`` on are counted, so every token but the first of a window is scored with at
    least ``block_size - stride`` tokens of context.
    """
    out, scored = [], 0  # targets 1..scored are done
    start = 0
    while scored < n - 1:
        end = min(start + block_size, n - 1)
        out.append((start, end, scored - start))
        scored = end
        start = min(start + stride, max(n - 1 - block_size, 0)) if end < n - 1 else start
    return out


@torch.no_grad()
def stream_nll(net: nn.Module, stream, block_size: int, stride: int, batch_size: int = 32) -> tuple[float, int]:
    """Summed negative log-likelihood of every next token of ``stream`` (a tensor of ids or a
    :class:`~nlpzoo_training.TokenFile`), and how many were scored."""
    windows = score_windows(len(stream), block_size, stride)
    device = device_of(net)
    total, count = None, 0
    with evaluating(net):
        by_length: dict[int, list] = {}
        for w in windows:
            by_length.setdefault(w[1] - w[0], []).append(w)
        for length, group in by_length.items():
            for i in range(0, len(group), batch_size):
                chunk = group[i:i + batch_size]
                both = torch.stack([read_span(stream, s, length + 1) for s, _, _ in chunk]).to(device)  # (B, T + 1)
                x, y = both[:, :-1], both[:, 1:]
                logits, _ = net(x)
                nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1),
                                      reduction="none").view(len(chunk), length)  # (B, T)
                first = torch.tensor([f for _, _, f in chunk], device=device)
                keep = torch.arange(length, device=device)[None, :] >= first[:, None]
                part = nll[keep].sum()
                total = part if total is None else total + part  # summed where computed: one read at the end
                count += sum(length - f for _, _, f in chunk)  # known here: no read from the device
    return (float(total) if total is not None else 0.0), count


# -- generation ----------------------------------------------------------------------------------
def filtered_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """``logits`` (V,) divided by ``temperature``, then cut to the ``top_k`` best, then to the nucleus ``top_p``."""
    logits = logits / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs >= top_p  # keep the smallest set whose mass reaches top_p
        logits = logits.clone()
        logits[order[drop]] = float("-inf")
    return logits


@torch.no_grad()
def sample(net: TransformerNet, prompt: list[int], *, max_tokens: int, temperature: float = 1.0, top_k: int = 0,
           top_p: float = 1.0, seed: int = 0, stop_id: int | None = None, banned: Sequence[int] = ()) -> list[int]:
    """Sampled continuation ids of ``prompt`` (``temperature`` 0: greedy); the same seed, the same ids.

    Keys and values are cached while the sequence fits the network's context; beyond it, each new
    token is predicted from the last ``max_positions`` tokens read afresh.
    """
    gen = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same samples on any device
    device = device_of(net)
    ids = list(prompt)[-net.max_positions:]
    out: list[int] = []
    with evaluating(net):
        logits, state = net(torch.as_tensor([ids], dtype=torch.long, device=device))
        for _ in range(max_tokens):
            last = logits[0, -1].float().cpu()
            if banned:
                last[list(banned)] = float("-inf")
            if temperature <= 0:
                nxt = int(last.argmax())
            else:
                nxt = int(torch.multinomial(torch.softmax(filtered_logits(last, temperature, top_k, top_p), -1), 1,
                                            generator=gen))
            if stop_id is not None and nxt == stop_id:
                break
            out.append(nxt)
            ids.append(nxt)
            if len(ids) <= net.max_positions:
                logits, state = net(torch.as_tensor([[nxt]], dtype=torch.long, device=device), state)
            else:
                ids = ids[-net.max_positions:]
                logits, state = net(torch.as_tensor([ids], dtype=torch.long, device=device))
    return out
