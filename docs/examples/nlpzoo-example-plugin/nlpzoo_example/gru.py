"""A character-level GRU language model, trained by nlpzoo's shared loop.

The loop gives it devices, precision, gradient accumulation, checkpoints, resume and several processes;
this file holds the network, the batches and what the language-model kind asks for. torch is imported
inside methods, so that listing the zoo stays fast.
"""
from __future__ import annotations

import math

import nlpzoo
from nlpzoo_training import TorchTask


class CharGRU(nlpzoo.LanguageModel):
    """Characters in, the next character out: an embedding, a GRU and a linear layer."""

    def __init__(self, hidden: int = 64, layers: int = 1, window: int = 32):
        if hidden < 1 or layers < 1 or window < 2:
            raise nlpzoo.ConfigError("expected hidden >= 1, layers >= 1 and window >= 2", "hidden")
        self.hidden, self.layers, self.window = hidden, layers, window
        self.tokenizer = self.net = None

    def _make_net(self):
        import torch

        class Net(torch.nn.Module):
            def __init__(self, vocab: int, hidden: int, layers: int):
                super().__init__()
                self.embed = torch.nn.Embedding(vocab, hidden)
                self.gru = torch.nn.GRU(hidden, hidden, layers, batch_first=True)
                self.out = torch.nn.Linear(hidden, vocab)

            def forward(self, ids, state=None):  # (B, T) -> (B, T, V)
                x, state = self.gru(self.embed(ids), state)
                return self.out(x), state

        return Net(self.tokenizer.vocab_size, self.hidden, self.layers)

    def _stream(self, examples) -> list[int]:
        return self.tokenizer.stream([ex["text"] for ex in examples])

    def fit(self, data, run):
        from nlpzoo_training.tokenization import TextTokenizer

        self.tokenizer = TextTokenizer.train([ex["text"] for ex in data["train"]], "char", vocab_size=512)
        self.net = self._make_net()
        streams = {split: self._stream(data[split]) for split in ("train", "validation") if data.get(split)}
        return run.fit(_Windows(self, streams, run.config.batch_size, run.seed))

    def evaluate(self, examples) -> dict[str, float]:
        return _perplexity(self.net, self._stream(examples), self.window)

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> str:
        """The prompt and up to ``max_tokens`` characters; drawn on the CPU, so a seed means the same text anywhere."""
        import torch

        from nlpzoo_training import device_of, evaluating

        tok, gen = self.tokenizer, torch.Generator().manual_seed(seed)
        ids, out = [tok.eos_id] + tok.encode(prompt), []
        with evaluating(self.net), torch.no_grad():
            logits, state = self.net(torch.tensor([ids], device=device_of(self.net)))
            for _ in range(max_tokens):
                scores = logits[0, -1].float().cpu()
                scores[[tok.pad_id, tok.unk_id]] = float("-inf")
                if top_k:
                    scores[scores < scores.topk(min(top_k, scores.numel())).values[-1]] = float("-inf")
                if temperature <= 0:
                    nxt = int(scores.argmax())
                else:
                    nxt = int(torch.multinomial(torch.softmax(scores / temperature, -1), 1, generator=gen))
                if nxt == tok.eos_id:
                    break
                out.append(nxt)
                logits, state = self.net(torch.tensor([[nxt]], device=device_of(self.net)), state)
        return prompt + tok.decode(out, strip=False)

    def save_state(self, directory) -> None:
        from nlpzoo_training import save_weights

        self.tokenizer.save(directory / "tokenizer.json")
        save_weights(self.net, directory / "model.safetensors")

    def load_state(self, directory) -> None:
        from nlpzoo_training.tokenization import TextTokenizer
        from nlpzoo_training import load_weights

        self.tokenizer = TextTokenizer.load(directory / "tokenizer.json")
        self.net = self._make_net()
        load_weights(self.net, directory / "model.safetensors")


def _perplexity(net, stream: list[int], window: int) -> dict[str, float]:
    """Mean negative log-likelihood per character of ``stream``, and its perplexity."""
    import torch
    import torch.nn.functional as F

    from nlpzoo_training import evaluating, on_device_of

    nll, count = 0.0, 0
    with evaluating(net), torch.no_grad():
        for x, y in on_device_of(net, _windows(stream, window)):
            logits, _ = net(x)
            nll += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))
            count += y.numel()
    loss = nll / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def _windows(stream: list[int], window: int, starts=None):
    """``(inputs, next characters)`` pairs of ``window`` ids, as CPU tensors ``(1, T)``."""
    import torch

    for start in starts if starts is not None else range(0, max(len(stream) - 1, 1), window):
        piece = torch.tensor(stream[start:start + window + 1])
        if len(piece) > 1:
            yield piece[None, :-1], piece[None, 1:]


class _Windows(TorchTask):
    """Random windows of the training stream, ``per_batch`` a batch; the loop moves them to the device.

    (Not ``self.batch_size``: that name is TorchTask's method that counts a batch's examples.)"""

    def __init__(self, model: CharGRU, streams: dict, per_batch: int, seed: int):
        self.model, self.nets, self.streams = model, {"model": model.net}, streams
        self.per_batch, self.seed = per_batch, seed

    def train_batches(self, epoch):
        import torch

        stream, w = self.streams["train"], self.model.window
        starts = torch.randperm(max(len(stream) - w - 1, 1)).tolist()  # the loop seeds torch per epoch
        pairs = list(_windows(stream, w, starts[: len(stream) // w]))
        for i in range(0, len(pairs), self.per_batch):
            chunk = [p for p in pairs[i:i + self.per_batch] if p[0].shape[1] == w]
            if chunk:
                yield torch.cat([x for x, _ in chunk]), torch.cat([y for _, y in chunk])

    def training_step(self, batch, stage):
        import torch.nn.functional as F

        x, y = batch
        logits, _ = self.nets["model"](x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), {}

    def evaluate(self, split):
        return _perplexity(self.nets["model"], self.streams.get("validation") or self.streams["train"], self.model.window)
