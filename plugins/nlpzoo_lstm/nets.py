"""The torch side of the LSTM models: networks, the training tasks the shared loop runs, sampling.

Imported only when a model is trained, loaded or used (``models.py`` stays torch-free).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpzoo_training import (TokenFile, TorchTask, classification_metrics, device_of, evaluating,
                             length_bucketed_batches, longest_first_batches, on_device_of, pad_sequences)


# -- networks ------------------------------------------------------------------------------------
def run_lstm(lstm: nn.LSTM, x, state=None):
    """``lstm(x, state)``; under CPU autocast (``train.precision: bf16``) on a processor without oneDNN's bf16
    kernels, which cannot build a bf16 LSTM, the LSTM alone runs in fp32 and the rest of the step stays bf16."""
    if (torch.is_autocast_enabled("cpu") and lstm.weight_ih_l0.device.type == "cpu"
            and not torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        with torch.autocast("cpu", enabled=False):
            return lstm(x, state)
    return lstm(x, state)


class LSTMClassifierNet(nn.Module):
    """Embedding, (bi)LSTM, pooling over time, linear head."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                 num_classes: int, *, bidirectional: bool = True, dropout: float = 0.3,
                 embedding_dropout: float = 0.1, pooling: str = "max", pad_id: int = 0):
        super().__init__()
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        # Packing keeps the backward direction from reading padding first.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = run_lstm(self.lstm, packed)
        if self.pooling == "last":
            pooled = torch.cat([h[-2], h[-1]], dim=-1) if self.bidirectional else h[-1]  # (B, D*H)
        else:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # (B, T, D*H)
            mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None])[..., None]
            if self.pooling == "max":
                pooled = out.masked_fill(~mask, float("-inf")).amax(dim=1)
            else:
                pooled = (out * mask).sum(dim=1) / lengths[:, None].to(out.dtype)
        return self.head(self.dropout(pooled))  # (B, C)


class LSTMLanguageModelNet(nn.Module):
    """Embedding, multi-layer LSTM, decoder; the decoder shares the embedding matrix when tied."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int, *,
                 dropout: float = 0.3, embedding_dropout: float = 0.1, tie_weights: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        # Tying needs the decoder input to have the embedding's width: project when they differ.
        self.proj = nn.Linear(hidden_size, embedding_dim) if tie_weights and hidden_size != embedding_dim else None
        self.decoder = nn.Linear(embedding_dim if tie_weights else hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state=None):
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        out, state = run_lstm(self.lstm, x, state)  # (B, T, H)
        out = self.dropout(out)
        if self.proj is not None:
            out = self.proj(out)  # (B, T, E)
        return self.decoder(out), state  # (B, T, V)

    max_positions = None  # reads sequences of any length

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        """The ``(h, c)`` of batch rows ``index`` (rows may repeat): the token-network protocol."""
        return tuple(s.index_select(1, index) for s in state)


# -- classifier data and task -------------------------------------------------------------------
class ClassifierTask(TorchTask):
    """Sentences tokenized once; each epoch a seeded shuffle into batches of similar length."""

    def __init__(self, net: LSTMClassifierNet, tokenizer, train: tuple[list[str], list[int]],
                 splits: dict[str, tuple[list[str], list[int]]], *, run, max_length: int, labels: Sequence[str]):
        self.nets = {"model": net}
        self.labels = list(labels)
        self.tokenizer = tokenizer
        self.run = run
        self.max_length = max_length
        self.batch_size_ = run.config.batch_size
        self.eval_batch_size = run.config.eval_batch_size or 2 * run.config.batch_size
        self.train_texts, self.train_labels = train
        self.train_ids = tokenizer.encode_batch(self.train_texts)  # once, not every epoch
        self.splits = {k: (tokenizer.encode_batch(t), y) for k, (t, y) in splits.items()}
        self.seed = run.seed

    def _epoch_data(self, epoch: int) -> tuple[list[list[int]], list[int]]:
        run = self.run
        if getattr(run, "augmenter", None) is None or run.config.augment_mode == "offline":
            return self.train_ids, self.train_labels  # offline: the split given to fit is already expanded
        return self.tokenizer.encode_batch(run.augment_texts(self.train_texts, epoch)), self.train_labels

    def train_batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        ids, labels = self._epoch_data(epoch)
        lengths = [min(len(s), self.max_length) for s in ids]
        for idx in length_bucketed_batches(lengths, self.batch_size_, seed=self.seed * 100_003 + epoch):
            x, n = pad_sequences([ids[i] for i in idx], self.tokenizer.pad_id, self.max_length)
            yield x, n, torch.as_tensor([labels[i] for i in idx], dtype=torch.long)

    def training_step(self, batch, stage: str):
        x, n, y = batch
        logits = self.nets["model"](x, n)
        loss = F.cross_entropy(logits.float(), y)
        return loss, {}

    @torch.no_grad()
    def predict_ids(self, ids: list[list[int]], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, shape ``(len(ids), C)``, in the order given."""
        return predict_proba(self.nets["model"], ids, self.tokenizer.pad_id, self.max_length,
                             batch_size or self.eval_batch_size)

    def evaluate(self, split: str) -> dict[str, float]:
        ids, y = self.splits[split]
        probs = self.predict_ids(ids)
        y = np.asarray(y)
        metrics, _ = classification_metrics(y, probs.argmax(1), self.labels)
        loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean()) if len(y) else 0.0
        return {"loss": loss, **metrics}


@torch.no_grad()
def predict_proba(net: nn.Module, ids: list[list[int]], pad_id: int, max_length: int, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``(len(ids), C)`` in the order given, computed in batches of similar length."""
    out = np.zeros((len(ids), net_classes(net)), dtype=np.float32)
    order = longest_first_batches([min(len(s), max_length) for s in ids], batch_size)
    batches = (pad_sequences([ids[i] for i in idx], pad_id, max_length) for idx in order)
    with evaluating(net):
        for idx, (x, n) in zip(order, on_device_of(net, batches)):
            out[idx] = torch.softmax(net(x, n).float(), dim=-1).cpu().numpy()
    return out


def net_classes(net: nn.Module) -> int:
    net = getattr(net, "module", net)
    return net.head.out_features


# -- language-model data and task ---------------------------------------------------------------
def batchify(stream, batch_size: int):
    """A token stream cut into ``batch_size`` contiguous rows, shape ``(B, N)``: a view of a tensor, or
    rows read window by window from a :class:`~nlpzoo_training.TokenFile`."""
    if isinstance(stream, TokenFile):
        return stream.rows(batch_size)
    n = stream.numel() // batch_size
    return stream[: n * batch_size].view(batch_size, n)


class Windows(Sequence):
    """The training windows of one epoch, made when the loop asks for one: ``(inputs, targets, number)``."""

    def __init__(self, data, offset: int, bptt: int, epoch: int):
        self.data, self.bptt, self.epoch = data, bptt, epoch
        self.starts = range(offset, data.shape[1] - 1, bptt)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int):
        start = self.starts[i]
        t = min(self.bptt, self.data.shape[1] - 1 - start)
        both = self.data[:, start:start + t + 1]  # one read: inputs and their next tokens
        # the window's number is a plain int: reading it costs no copy back from the device
        return both[:, :-1], both[:, 1:], self.epoch * 1_000_000 + i


class LanguageModelTask(TorchTask):
    """Truncated back-propagation through time over one token stream per split.

    Rows of a batch are contiguous stretches of the corpus, so the LSTM state is carried from one
    window to the next (detached), and reset at the start of each epoch and whenever a window does
    not follow the previous one (a resumed run, or windows shared out between processes).
    """

    def __init__(self, net: LSTMLanguageModelNet, streams: dict[str, torch.Tensor], *, run, bptt: int):
        self.nets = {"model": net}
        self.streams = streams
        self.bptt = bptt
        self.seed = run.seed
        self.batch_size_ = run.config.batch_size
        self.eval_batch_size = run.config.eval_batch_size or 10
        self._state = None
        self._last = -2

    def train_batches(self, epoch: int) -> Windows:
        data = batchify(self.streams["train"], self.batch_size_)  # (B, N)
        # A different cut into windows each epoch, the same for the same epoch.
        offset = int(np.random.default_rng([self.seed, epoch]).integers(0, self.bptt))
        return Windows(data, offset, self.bptt, epoch)

    def on_epoch_start(self, epoch: int) -> None:
        self._state = None

    def training_step(self, batch, stage: str):
        x, y, w = batch
        net = self.nets["model"]
        state = self._state if w == self._last + 1 and self._state is not None and self._state[0].shape[1] == x.shape[0] else None
        logits, new_state = net(x, state)  # (B, T, V)
        self._state = tuple(s.detach().float() for s in new_state)
        self._last = w
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        return loss, {"ppl": loss.detach().clamp(max=50.0).exp()}

    def state_dict(self) -> dict:
        """The carried LSTM state, so a run resumed mid-epoch continues exactly."""
        if self._state is None:
            return {"last": self._last}
        return {"last": self._last, "h": self._state[0].clone(), "c": self._state[1].clone()}

    def load_state_dict(self, state: dict) -> None:
        """Checkpoints hold CPU tensors: the state goes back to where the network lives."""
        self._last = int(state.get("last", -2))
        device = device_of(self.nets["model"])
        self._state = (state["h"].to(device), state["c"].to(device)) if "h" in state else None

    def evaluate(self, split: str) -> dict[str, float]:
        nll, count = stream_nll(self.nets["model"], self.streams[split], self.eval_batch_size, self.bptt)
        loss = nll / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


@torch.no_grad()
def stream_nll(net: nn.Module, stream: torch.Tensor, batch_size: int, bptt: int) -> tuple[float, int]:
    """Summed negative log-likelihood of every next token of ``stream``, and how many were scored."""
    data = batchify(stream, batch_size)
    windows = ((w[:, :-1], w[:, 1:]) for w in (data[:, s:s + bptt + 1] for s in range(0, data.shape[1] - 1, bptt)))
    state, total, count = None, None, 0
    with evaluating(net):
        for x, y in on_device_of(net, windows):
            logits, state = net(x, state)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), reduction="sum")
            total = nll if total is None else total + nll  # summed where computed: one read at the end
            count += y.numel()
    return (float(total) if total is not None else 0.0), count


@torch.no_grad()
def next_token_probabilities(net: LSTMLanguageModelNet, ids: list[int], banned: Sequence[int] = ()) -> np.ndarray:
    """The distribution over the next token after ``ids`` (banned tokens at 0), as a NumPy vector."""
    with evaluating(net):
        logits, _ = net(torch.as_tensor([ids], dtype=torch.long, device=device_of(net)))
    probs = torch.softmax(logits[0, -1].float(), dim=-1)
    if banned:
        probs[list(banned)] = 0.0
    return probs.cpu().numpy()


@torch.no_grad()
def sample(net: LSTMLanguageModelNet, prompt: list[int], *, max_tokens: int, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, seed: int = 0, stop_id: int | None = None,
           banned: Sequence[int] = ()) -> list[int]:
    """Sampled continuation ids of ``prompt``: temperature, then top-k, then nucleus (top-p).

    ``temperature`` 0 means greedy. The same seed gives the same continuation on any device: the
    choices are drawn on the CPU from a seeded generator (the distribution is copied there per token).
    """
    device = device_of(net)
    gen = torch.Generator().manual_seed(seed)
    out: list[int] = []
    with evaluating(net):
        logits, state = net(torch.as_tensor([prompt], dtype=torch.long, device=device))
        for _ in range(max_tokens):
            last = logits[0, -1].float().cpu()
            nxt = pick_token(last, temperature, top_k, top_p, gen, banned)
            if stop_id is not None and nxt == stop_id:
                break
            out.append(nxt)
            logits, state = net(torch.tensor([[nxt]], dtype=torch.long, device=device), state)
    return out


def pick_token(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, gen: torch.Generator,
               banned: Sequence[int] = ()) -> int:
    """One token id from CPU ``logits`` ``(V,)``: banned ones never, then temperature, top-k and nucleus."""
    last = logits.clone()
    if banned:
        last[list(banned)] = float("-inf")
    if temperature <= 0:
        return int(last.argmax())
    last = last / temperature
    if top_k > 0:
        kth = torch.topk(last, min(top_k, last.numel())).values[-1]
        last[last < kth] = float("-inf")
    if top_p < 1.0:
        sorted_logits, order = torch.sort(last, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs >= top_p  # keep the smallest set reaching top_p
        last[order[drop]] = float("-inf")
    return int(torch.multinomial(torch.softmax(last, dim=-1), 1, generator=gen))
