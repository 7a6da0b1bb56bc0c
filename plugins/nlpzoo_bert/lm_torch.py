"""The torch side of the pretrained language models: text into blocks, masking, the training task, sampling.

Imported only inside methods of :mod:`nlpzoo_bert.lm`, so listing the zoo never imports torch.
"""
from __future__ import annotations

import inspect
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from nlpzoo_training import TorchTask, derive_seed, evaluating, on_device_of

CHUNK = 256  # texts tokenized at once: the fast tokenizer's batches, bounded memory when streaming
SHUFFLE_BUFFER = 2048  # blocks of a streamed corpus shuffled together
EVAL_MASK_SEED = 0  # held-out text is masked the same way at every evaluation, so losses compare


# ---------------------------------------------------------------- text into blocks


def texts_of(examples: Iterable) -> Iterator[str]:
    return (ex["text"] for ex in examples)


def token_chunks(model, texts: Iterable[str]) -> Iterator[list[int]]:
    """Every text's ids (special tokens as the tokenizer adds them; a causal model's texts end with EOS)."""
    tokenizer, eos = model.tokenizer, model.tokenizer.eos_token_id
    causal = model.task_type == "CAUSAL_LM"
    chunk: list[str] = []

    def encode(batch):
        for ids in tokenizer(batch, add_special_tokens=True, truncation=False)["input_ids"]:
            yield ids + [eos] if causal and eos is not None and (not ids or ids[-1] != eos) else ids

    for text in texts:
        chunk.append(text)
        if len(chunk) == CHUNK:
            yield from encode(chunk)
            chunk = []
    if chunk:
        yield from encode(chunk)


def packed(model, texts: Iterable[str]) -> Iterator[list[int]]:
    """Blocks of ``block_size`` ids cut from the concatenated texts; the remainder is dropped (run_clm.py)."""
    size, buffer = model.block_size, []
    for ids in token_chunks(model, texts):
        buffer.extend(ids)
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]


def blocks_of(model, examples: Iterable) -> torch.Tensor:
    """All blocks of a split held in memory, ``(N, block_size)``; a text shorter than one block is one block."""
    blocks = list(packed(model, texts_of(examples)))
    if not blocks:  # less text than one block: keep it whole rather than nothing
        ids = [i for chunk in token_chunks(model, texts_of(examples)) for i in chunk]
        blocks = [ids] if ids else []
    if not blocks:
        return torch.zeros((0, model.block_size), dtype=torch.long)
    return torch.as_tensor(blocks, dtype=torch.long)


# ---------------------------------------------------------------- masking


class Masker:
    """BERT's masking: ``probability`` of the non-special tokens chosen, 80% masked, 10% random, 10% kept."""

    def __init__(self, tokenizer, probability: float, whole_words: bool):
        self.probability, self.whole_words = probability, whole_words
        self.mask_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(self.vocab_size)))
        special = set(tokenizer.all_special_ids)
        self.special = torch.tensor([i in special for i in range(self.vocab_size)])
        if any(t and t.startswith("##") for t in tokens):  # WordPiece marks a word's later pieces
            continues = [bool(t) and t.startswith("##") for t in tokens]
        else:  # byte-level BPE and SentencePiece mark a word's first piece
            continues = [bool(t) and not t.startswith(("Ġ", "▁")) for t in tokens]
        self.continues = torch.tensor(continues) & ~self.special

    def __call__(self, ids: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        ids = ids.clone()  # (B, T)
        draw = torch.rand(ids.shape, generator=generator)  # (B, T)
        if self.whole_words:  # every piece takes the draw of its word's first piece
            positions = torch.arange(ids.shape[1]).expand_as(ids)
            starts = torch.where(self.continues[ids], torch.zeros_like(positions), positions)
            draw = draw.gather(1, starts.cummax(1).values)
        chosen = (draw < self.probability) & ~self.special[ids]
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        action = torch.rand(ids.shape, generator=generator)
        random_ids = torch.randint(self.vocab_size, ids.shape, generator=generator)
        ids = torch.where(chosen & (action < 0.8), torch.full_like(ids, self.mask_id), ids)
        ids = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, ids)
        return {"input_ids": ids, "labels": labels}


def _batch(ids: torch.Tensor, masker: Masker | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
    if masker is not None:
        return masker(ids, generator)
    return {"input_ids": ids, "labels": ids}  # the model shifts the labels itself


# ---------------------------------------------------------------- training


class LanguageModelTask(TorchTask):
    """Blocks of the training text, shuffled per epoch by the run's seed; masked ones for a masked model."""

    stages = ("model",)

    def __init__(self, model, data: dict, run):
        self.owner, self.run = model, run
        self.nets = {"model": model.model}
        self.masker = (Masker(model.tokenizer, model.mask_probability, model.whole_word_masking)
                       if model.task_type != "CAUSAL_LM" else None)
        if self.masker is not None and self.masker.mask_id is None:
            from nlpzoo import ConfigError

            raise ConfigError(f"{model.source} has no mask token: a masked language model needs one (use causal-lm "
                              "for decoders)", "model.pretrained")
        self.train_batch_size = run.config.batch_size
        train = data["train"]
        self.streamed = not isinstance(train, Sequence)
        if self.streamed:
            if run.world_size > 1 and hasattr(train, "shard"):
                train, self.shards_itself = train.shard(run.rank, run.world_size), True
            self.train = train
        else:
            self.train = blocks_of(model, train)
            if len(self.train) == 0:
                from nlpzoo import ConfigError

                raise ConfigError("the training split has no text", "dataset")
        self.splits = {s: blocks_of(model, data[s]) for s in ("validation", "test")
                       if data.get(s) is not None and isinstance(data[s], Sequence) and len(data[s])}
        self.streamed_splits = {s: data[s] for s in ("validation", "test")
                                if data.get(s) is not None and not isinstance(data[s], Sequence)}

    def train_batches(self, epoch: int) -> Iterator[dict]:
        seed = derive_seed(self.run.seed, "lm-batches", epoch)
        generator = torch.Generator().manual_seed(seed)
        if not self.streamed:
            order = torch.randperm(len(self.train), generator=generator)
            for start in range(0, len(order), self.train_batch_size):
                yield _batch(self.train[order[start:start + self.train_batch_size]], self.masker, generator)
            return
        rng, buffer, batch = random.Random(seed), [], []
        for block in packed(self.owner, texts_of(self.train)):
            buffer.append(block)
            if len(buffer) == SHUFFLE_BUFFER:
                rng.shuffle(buffer)
                yield from self._batches(buffer, batch, generator)
                buffer = []
        rng.shuffle(buffer)
        yield from self._batches(buffer, batch, generator, last=True)

    def _batches(self, blocks, pending: list, generator, last: bool = False) -> Iterator[dict]:
        pending.extend(blocks)
        while len(pending) >= self.train_batch_size or (last and pending):
            take, pending[:] = pending[:self.train_batch_size], pending[self.train_batch_size:]
            yield _batch(torch.as_tensor(take, dtype=torch.long), self.masker, generator)

    def training_step(self, batch: dict, stage: str):
        return self.nets["model"](**batch).loss, {}

    def evaluate(self, split: str) -> dict[str, float]:
        if split in self.splits:
            return evaluate(self.owner, self.splits[split], self.masker)
        if split in self.streamed_splits:
            return evaluate(self.owner, blocks_of(self.owner, self.streamed_splits[split]), self.masker)
        return {}


# ---------------------------------------------------------------- evaluation


@torch.inference_mode()
def evaluate(model, blocks: torch.Tensor, masker: Masker | None = None) -> dict[str, float]:
    """Mean loss per predicted token over ``blocks`` and its exponential; a masked model's held-out
    text is masked by a fixed seed, the same at every evaluation."""
    import math

    if masker is None and model.task_type != "CAUSAL_LM":
        masker = Masker(model.tokenizer, model.mask_probability, model.whole_word_masking)
    generator = torch.Generator().manual_seed(EVAL_MASK_SEED)
    batches = [_batch(blocks[i:i + model.batch_size_eval], masker, generator)
               for i in range(0, len(blocks), model.batch_size_eval)]
    total, count = 0.0, 0
    with evaluating(model.model):
        for batch in on_device_of(model.model, batches):
            logits, labels = model.model(input_ids=batch["input_ids"]).logits.float(), batch["labels"]
            if masker is None:  # next-token prediction: position t predicts token t + 1
                logits, labels = logits[:, :-1], labels[:, 1:]
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                           ignore_index=-100, reduction="sum"))
            count += int((labels != -100).sum())
    loss = total / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": float(count)}


# ---------------------------------------------------------------- generation


def pick(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator) -> int:
    """One token id from ``logits`` (V,): greedy at temperature 0, else sampled after top-k and top-p."""
    logits = logits.float().cpu()  # sampled on the CPU: the same ids whatever device computed the logits
    if temperature == 0:
        return int(logits.argmax())
    logits = logits / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= top_p  # keep the smallest set reaching top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


def _continuation(tokenizer, prompt: str, prompt_ids: list[int], new_ids: list[int]) -> str:
    """``prompt`` as written, then the text the new ids add to it."""
    before = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    after = tokenizer.decode(prompt_ids + new_ids, skip_special_tokens=True)
    return prompt + after[len(before):]


@torch.inference_mode()
def continue_text(model, prompt: str, max_tokens: int, temperature: float, top_k: int, top_p: float, seed: int) -> str:
    """A causal model's continuation of ``prompt``, token by token with its key-value cache; stops at EOS."""
    tokenizer, net = model.tokenizer, model.model
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    if not prompt_ids:  # an empty prompt: start from the model's own start (or end-of-text) token
        prompt_ids = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    generator = torch.Generator().manual_seed(seed)
    # transformers 5.24 renamed past_key_values to cache (argument and output); either works here
    name = "cache" if "cache" in inspect.signature(net.get_base_model().forward if hasattr(net, "get_base_model")
                                                   else net.forward).parameters else "past_key_values"
    new, past, feed = [], None, prompt_ids
    with evaluating(net):
        for _ in range(max_tokens):
            batch = {"input_ids": torch.as_tensor([feed], dtype=torch.long)}
            for batch in on_device_of(net, [batch]):
                out = net(input_ids=batch["input_ids"], use_cache=True, **{name: past})
            past = getattr(out, name)
            token = pick(out.logits[0, -1], temperature, top_k, top_p, generator)
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
            feed = [token]
    return _continuation(tokenizer, prompt, [i for i in prompt_ids if i not in tokenizer.all_special_ids], new)


@torch.inference_mode()
def fill_masks(model, prompt: str, max_tokens: int, temperature: float, top_k: int, top_p: float, seed: int) -> str:
    """A masked model's continuation: one mask after the text, filled, then the next."""
    tokenizer, net = model.tokenizer, model.model
    ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]  # [CLS] prompt [SEP]
    body, end = ids[:-1], ids[-1:]
    generator = torch.Generator().manual_seed(seed)
    special = set(tokenizer.all_special_ids)
    new = []
    with evaluating(net):
        for _ in range(max_tokens):
            batch = {"input_ids": torch.as_tensor([body + new + [tokenizer.mask_token_id] + end], dtype=torch.long)}
            for batch in on_device_of(net, [batch]):
                logits = net(input_ids=batch["input_ids"]).logits[0, -2]
            logits[list(special)] = float("-inf")  # a word, never [CLS], [SEP] or [MASK]
            new.append(pick(logits, temperature, top_k, top_p, generator))
    return _continuation(tokenizer, prompt, [i for i in body if i not in special], new)


# ---------------------------------------------------------------- files


def keep_pooler(source: str, directory: Path) -> None:
    """Copy the pretrained encoder's pooler into a saved masked-LM folder, which lacks it (BERT's masked
    model has no pooler): a classifier fine-tuned from the folder then starts from the original pooler,
    as it would from the original encoder, not from a random one."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig

    weights, saved = Path(source) / "model.safetensors", directory / "model.safetensors"
    if not weights.exists() or not saved.exists():
        return  # sharded or remote weights: left as transformers saved them
    prefix = AutoConfig.from_pretrained(str(directory)).model_type
    original, ours = load_file(str(weights)), load_file(str(saved))
    pooler = {k if k.startswith(f"{prefix}.") else f"{prefix}.{k}": v for k, v in original.items() if "pooler." in k}
    missing = {k: v for k, v in pooler.items() if k not in ours}
    if missing:
        save_file({**ours, **missing}, str(saved), metadata={"format": "pt"})
