"""The torch side of ``seqgan``: sampling sentences from a language model's token network, Monte Carlo
roll-out rewards, and the tasks the shared loop trains (the discriminator's pretraining, then the
adversarial game).

A generator is any network with the token-network protocol (``nlpzoo.LanguageModel.token_network``):
``net(ids, state) -> (logits, state)`` and ``net.reorder_state(state, index)``. Random numbers are
drawn on the CPU from generators seeded per batch and then moved, so a batch gets the same
sentences on any device and after a resume.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlpzoo_training import TorchTask, derive_seed, device_of, evaluating

from .bleu import ReferenceSet, self_bleu


@dataclass
class Vocabulary:
    """What sampling needs to know about the generator's tokenizer."""

    size: int
    pad_id: int
    eos_id: int
    banned: tuple[int, ...]  # never sampled: padding, unknown words, label tokens


@dataclass
class Sentences:
    """Sampled sentences: ``tokens`` ``(B, L)`` ending with ``[EOS]`` (unless cut at ``L``), padding after it."""

    tokens: torch.Tensor
    lengths: torch.Tensor  # (B,) tokens up to and including [EOS]


def banned_mask(vocab: Vocabulary, device) -> torch.Tensor:
    mask = torch.zeros(vocab.size, dtype=torch.bool, device=device)
    mask[list(vocab.banned)] = True
    return mask


def _draw(logits: torch.Tensor, uniform: torch.Tensor, temperature: float) -> torch.Tensor:
    """One token per row of ``logits`` ``(R, V)`` (banned ones at -inf) by inverting the cumulative
    distribution at ``uniform`` ``(R,)``; ``logits`` is overwritten."""
    if temperature <= 0:
        return logits.argmax(-1)
    if temperature != 1.0:
        logits.div_(temperature)
    cdf = logits.sub_(logits.amax(-1, keepdim=True)).exp_().cumsum_(-1)  # unnormalised: one pass fewer
    target = uniform.clamp_min(1e-7)[:, None] * cdf[:, -1:]  # (R, 1)
    return torch.searchsorted(cdf, target).squeeze(1).clamp_max(logits.shape[-1] - 1)


@torch.no_grad()
def continue_sentences(net: nn.Module, state, last_logits: torch.Tensor, steps: int, uniforms: torch.Tensor,
                       vocab: Vocabulary, temperature: float = 1.0) -> torch.Tensor:
    """``steps`` more tokens for each row, from ``state`` and the logits it ended with ``(R, V)``.

    Rows stop at ``[EOS]`` (padding after it); ``uniforms`` ``(steps, R)`` drive the draws, row by row,
    so a row gets the same tokens whatever the other rows do. Finished rows leave the batch.
    """
    rows = last_logits.shape[0]
    device = last_logits.device
    out = torch.full((rows, steps), vocab.pad_id, dtype=torch.long, device=device)
    banned = banned_mask(vocab, device)
    going = torch.arange(rows, device=device)  # the rows still being written
    logits = last_logits
    for s in range(steps):
        nxt = _draw(logits.float().masked_fill(banned, float("-inf")), uniforms[s, going], temperature)  # (R',)
        out[going, s] = nxt
        if s == steps - 1:
            break
        more = nxt != vocab.eos_id
        if not bool(more.all()):
            if not bool(more.any()):
                break
            keep = more.nonzero().squeeze(1)
            going, nxt, state = going[keep], nxt[keep], net.reorder_state(state, keep)
        step_logits, state = net(nxt[:, None], state)
        logits = step_logits[:, -1]
    return out
def lengths_of(tokens: torch.Tensor, vocab: Vocabulary) -> torch.Tensor:
    """Tokens up to and including the first ``[EOS]`` of each row (all of them when there is none)."""
    is_eos = tokens == vocab.eos_id
    first = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full_like(tokens[:, 0], tokens.shape[1] - 1))
    return first + 1


@torch.no_grad()
def sample(net: nn.Module, prefixes: torch.Tensor, length: int, vocab: Vocabulary, generator: torch.Generator,
           temperature: float = 1.0) -> Sentences:
    """Sentences of at most ``length`` tokens after ``prefixes`` ``(B, P)`` (``[EOS]``, then a label's tokens)."""
    device = device_of(net)
    with evaluating(net):
        logits, state = net(prefixes.to(device))
        # row by row from the stream: a sentence's draws do not depend on how many are sampled with it
        uniforms = torch.rand(prefixes.shape[0], length, generator=generator).T.contiguous().to(device)
        tokens = continue_sentences(net, state, logits[:, -1], length, uniforms, vocab, temperature)
    return Sentences(tokens, lengths_of(tokens, vocab))


def real_probability(discriminator: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The discriminator's probability that each input is a real sentence (class 1), ``(B,)``."""
    return torch.softmax(discriminator(inputs).float(), dim=-1)[:, 1]


@torch.no_grad()
def rollout_rewards(net: nn.Module, discriminator: nn.Module, prefixes: torch.Tensor, sentences: Sentences,
                    vocab: Vocabulary, rollouts: int, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """SeqGAN's action values ``Q(y_1..y_{t-1}, y_t)``, ``(B, L)``: for each token, the mean probability
    of being real that the discriminator gives ``rollouts`` completions of the sentence up to it
    (Yu et al., 2017, eq. 4); for a sentence's last token, that of the sentence itself. Positions after
    a sentence's end are 0. Only sentences still going are rolled out, and only until they all end.
    """
    device = device_of(net)
    tokens, lengths = sentences.tokens.to(device), sentences.lengths.to(device)
    batch, length = tokens.shape
    rewards = torch.zeros(batch, length, device=device)
    with evaluating(net, discriminator):
        prefix = prefixes.to(device)
        logits, state = net(prefix)
        for t in range(length - 1):
            logits, state = net(tokens[:, t:t + 1], state)  # the state after y_1..y_t
            going = (lengths > t + 1).nonzero().squeeze(1)  # (R,) sentences with tokens after t
            if going.numel() == 0:
                break
            index = going.repeat_interleave(rollouts)  # (R * N,)
            uniforms = torch.rand(length - t - 1, index.numel(), generator=generator).to(device)
            tails = continue_sentences(net, net.reorder_state(state, index), logits[index, -1], length - t - 1,
                                       uniforms, vocab, temperature)  # (R * N, L - t - 1)
            completed = torch.cat([tokens[index, :t + 1], tails], dim=1)  # (R * N, L)
            scores = real_probability(discriminator, discriminator_input(prefix[index], completed, vocab))
            rewards[going, t] = scores.view(-1, rollouts).mean(1)
        whole = real_probability(discriminator, discriminator_input(prefix, tokens, vocab))  # (B,)
        rewards[torch.arange(batch, device=device), lengths - 1] = whole
    return rewards


def discriminator_input(prefixes: torch.Tensor, tokens: torch.Tensor, vocab: Vocabulary) -> torch.Tensor:
    """What the discriminator reads: the label's tokens (the prefix without its leading ``[EOS]``), then the sentence."""
    return torch.cat([prefixes[:, 1:], tokens], dim=1) if prefixes.shape[1] > 1 else tokens


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor, banned: torch.Tensor) -> torch.Tensor:
    """``log p(token)`` at each position ``(B, L)`` under the distribution sampling used (banned tokens removed)."""
    logp = torch.log_softmax(logits.float().masked_fill(banned, float("-inf")), dim=-1)  # (B, L, V)
    return logp.gather(-1, tokens[..., None]).squeeze(-1)


def sequence_mask(lengths: torch.Tensor, length: int) -> torch.Tensor:
    return torch.arange(length, device=lengths.device)[None, :] < lengths[:, None]  # (B, L)


# -- data ----------------------------------------------------------------------------------------
def encode_sentences(tokenizer, texts: Sequence[str], length: int) -> list[list[int]]:
    """Token ids of each text cut to ``length - 1``, then ``[EOS]``: real sentences as the generator writes them."""
    return [ids[:length - 1] + [tokenizer.eos_id] for ids in tokenizer.encode_batch(list(texts))]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, width: int | None = None) -> torch.Tensor:
    width = width or max(len(r) for r in rows)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.as_tensor(r[:width], dtype=torch.long)
    return out


class RealSentences:
    """The real sentences of a split with their prefixes (``[EOS]`` and the label's tokens), batched by seed."""

    def __init__(self, sentences: list[list[int]], prefixes: list[list[int]], pad_id: int, length: int):
        self.sentences, self.prefixes, self.pad_id, self.length = sentences, prefixes, pad_id, length

    def __len__(self) -> int:
        return len(self.sentences)

    def rows(self, index: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return (pad_rows([self.prefixes[i] for i in index], self.pad_id),
                pad_rows([self.sentences[i] for i in index], self.pad_id, self.length))

    def batches(self, seed: int, epoch: int, batch_size: int):
        """``(prefixes, sentences, seeds)`` per batch: a seeded shuffle, and one sampling seed per batch."""
        order = np.random.default_rng([seed, epoch]).permutation(len(self))
        for i, start in enumerate(range(0, len(order), batch_size)):
            index = order[start:start + batch_size].tolist()
            prefixes, sentences = self.rows(index)
            seeds = torch.full((len(index),), derive_seed(seed, "samples", epoch, i), dtype=torch.long)
            yield prefixes, sentences, seeds


def _generator_of(seeds: torch.Tensor, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(int(seeds[0]) * 7 + salt)


# -- tasks ---------------------------------------------------------------------------------------
class _Scoring:
    """Validation metrics shared by both tasks: the discriminator's accuracy, the generator's NLL, BLEU."""

    def evaluate(self, split: str) -> dict[str, float]:
        return self.game.score(self.generator_module, self.discriminator_module, self.splits[split],
                               self.references[split], seed=derive_seed(self.seed, "evaluation"), decode=self.decode)


class DiscriminatorPretraining(_Scoring, TorchTask):
    """The discriminator alone learns real sentences against the (fixed) generator's samples."""

    def __init__(self, game: "Game", generator: nn.Module, discriminator: nn.Module, train: RealSentences,
                 splits: dict[str, RealSentences], references: dict, *, seed: int, batch_size: int, decode=None):
        self.game, self.decode = game, decode
        self.generator_module, self.discriminator_module = generator, discriminator
        self.nets = {"discriminator": discriminator}
        self.train, self.splits, self.references = train, splits, references
        self.seed, self.batch_size_ = seed, batch_size

    def train_batches(self, epoch: int):
        return self.train.batches(derive_seed(self.seed, "discriminator-pretraining"), epoch, self.batch_size_)

    def training_step(self, batch, stage: str):
        return self.game.discriminator_loss(self.generator_module, self.nets["discriminator"], batch)



class AdversarialTask(_Scoring, TorchTask):
    """Per batch: the discriminator learns real against fresh samples, then the generator follows the
    policy gradient of the roll-out rewards (or, with Gumbel-softmax, the discriminator's gradient)."""

    stages = ("discriminator", "generator")

    def __init__(self, game: "Game", generator: nn.Module, discriminator: nn.Module, train: RealSentences,
                 splits: dict[str, RealSentences], references: dict, *, seed: int, batch_size: int, decode=None):
        self.game, self.decode = game, decode
        self.generator_module, self.discriminator_module = generator, discriminator
        self.nets = {"generator": generator, "discriminator": discriminator}
        self.train, self.splits, self.references = train, splits, references
        self.seed, self.batch_size_ = seed, batch_size

    def train_batches(self, epoch: int):
        return self.train.batches(self.seed, epoch, self.batch_size_)

    def training_step(self, batch, stage: str):
        if stage == "discriminator":
            # samples from the plain generator: only its own stage's forward goes through DDP
            return self.game.discriminator_loss(self.generator_module, self.nets["discriminator"], batch)
        return self.game.generator_loss(self.generator_module, self.nets["generator"], self.discriminator_module, batch)



# -- the losses ----------------------------------------------------------------------------------
class Game:
    """SeqGAN's two losses and its validation scores, for given sizes and settings."""

    def __init__(self, vocab: Vocabulary, *, length: int, rollouts: int, relaxation: str, gumbel_temperature: float,
                 mle_weight: float, eval_samples: int):
        self.vocab, self.length, self.rollouts = vocab, length, rollouts
        self.relaxation, self.gumbel_temperature = relaxation, gumbel_temperature
        self.mle_weight, self.eval_samples = mle_weight, eval_samples

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, batch):
        prefixes, real, seeds = batch
        fake = sample(generator, prefixes, self.length, self.vocab, _generator_of(seeds)).tokens
        width = max(real.shape[1], fake.shape[1])
        real, fake = F.pad(real, (0, width - real.shape[1]), value=self.vocab.pad_id), F.pad(fake, (0, width - fake.shape[1]), value=self.vocab.pad_id)
        inputs = torch.cat([discriminator_input(prefixes, real, self.vocab), discriminator_input(prefixes, fake, self.vocab)])
        targets = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).long().to(inputs.device)
        logits = discriminator(inputs).float()  # (2B, 2), one pass for both halves
        p_real = torch.softmax(logits.detach(), dim=-1)[:, 1]
        return F.cross_entropy(logits, targets), {"d_real": p_real[:len(real)].mean(), "d_fake": p_real[len(real):].mean()}

    def generator_loss(self, generator: nn.Module, trained: nn.Module, discriminator: nn.Module, batch):
        """``generator`` is the plain module (sampling, roll-outs); ``trained`` is what the loop wraps (one pass with gradients)."""
        prefixes, real, seeds = batch
        sentences = sample(generator, prefixes, self.length, self.vocab, _generator_of(seeds))
        tokens, lengths = sentences.tokens, sentences.lengths
        mask = sequence_mask(lengths, tokens.shape[1])  # (B, L)
        banned = banned_mask(self.vocab, tokens.device)
        inputs = torch.cat([prefixes, tokens[:, :-1]], dim=1)  # teacher forcing on the sampled sentences
        if self.mle_weight:  # the real sentences in the same pass: one forward per step under DDP
            inputs = torch.cat([inputs, torch.cat([prefixes, real[:, :-1]], dim=1)])
        start = prefixes.shape[1] - 1
        with evaluating(generator):  # no dropout: the log-probabilities of the policy that sampled
            logits, _ = trained(inputs)
        logits = logits[:, start:]  # (B, L, V): the distribution of each next token
        logits, real_logits = logits[:len(tokens)], logits[len(tokens):]
        if self.relaxation == "gumbel":
            loss, logs = self._relaxed_loss(logits, tokens, mask, prefixes, discriminator, seeds)
        else:
            rewards = rollout_rewards(generator, discriminator, prefixes, sentences, self.vocab, self.rollouts,
                                      _generator_of(seeds, salt=1))  # (B, L)
            # the batch's mean reward at each position as a baseline: same expected gradient, less variance
            counts = mask.sum(0).clamp_min(1)
            baseline = (rewards * mask).sum(0) / counts  # (L,)
            advantage = (rewards - baseline) * mask
            logp = token_log_probs(logits, tokens, banned).masked_fill(~mask, 0.0)  # (B, L); padding is banned: -inf
            loss = -(logp * advantage).sum() / mask.sum()
            logs = {"reward": (rewards * mask).sum() / mask.sum()}
        if self.mle_weight:
            keep = real != self.vocab.pad_id
            nll = F.cross_entropy(real_logits.float().reshape(-1, real_logits.shape[-1]), real.reshape(-1), reduction="none")
            mle = (nll * keep.reshape(-1)).sum() / keep.sum()
            loss = loss + self.mle_weight * mle
            logs["mle_loss"] = mle.detach()
        logs["sample_length"] = lengths.float().mean()
        return loss, logs

    def _relaxed_loss(self, logits, tokens, mask, prefixes, discriminator, seeds):
        """Straight-through Gumbel-softmax: the discriminator reads the sampled one-hot tokens; the gradient
        reaches the generator through ``softmax((logits + g) / tau)`` with the Gumbel noise ``g`` that
        picked them (the noise is redrawn here, conditioned on the sampled token: Maddison et al.'s top-down
        construction), so no roll-outs are needed."""
        banned = banned_mask(self.vocab, logits.device)
        logits = logits.float().masked_fill(banned, float("-inf"))
        noise = conditional_gumbel(logits.detach(), tokens, _generator_of(seeds, salt=2))  # (B, L, V)
        soft = torch.softmax((logits + noise) / self.gumbel_temperature, dim=-1)
        hard = F.one_hot(tokens, self.vocab.size).float()
        one_hot = hard + soft - soft.detach()
        pad = F.one_hot(torch.full_like(tokens, self.vocab.pad_id), self.vocab.size).float()
        one_hot = torch.where(mask[..., None], one_hot, pad)  # (B, L, V)
        label = F.one_hot(prefixes[:, 1:].to(logits.device), self.vocab.size).float()
        reads = torch.cat([label, one_hot], dim=1)
        p_real = real_probability(discriminator, reads)
        return -torch.log(p_real.clamp_min(1e-8)).mean(), {"reward": p_real.detach().mean()}

    # ------------------------------------------------------------ scores

    @torch.no_grad()
    def score(self, generator: nn.Module, discriminator: nn.Module, real: RealSentences, references: ReferenceSet,
              seed: int, decode=None) -> dict[str, float]:
        """``loss`` (the generator's NLL per token of the real sentences), ``perplexity``, the discriminator's
        accuracy on them and as many samples, and BLEU-4 / self-BLEU-4 of ``eval_samples`` samples."""
        device = device_of(generator)
        nll, count, correct, seen = 0.0, 0, 0, 0
        texts = []
        with evaluating(generator, discriminator):
            for start in range(0, len(real), 64):
                index = list(range(start, min(start + 64, len(real))))
                prefixes, sentences = (t.to(device) for t in real.rows(index))
                logits, _ = generator(torch.cat([prefixes, sentences[:, :-1]], dim=1))
                logits = logits[:, prefixes.shape[1] - 1:]
                keep = sentences != self.vocab.pad_id
                losses = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), sentences.reshape(-1), reduction="none")
                nll += float((losses * keep.reshape(-1)).sum())
                count += int(keep.sum())
                fake = sample(generator, prefixes, self.length, self.vocab,
                              torch.Generator().manual_seed(seed + start)).tokens
                p_real = real_probability(discriminator, discriminator_input(prefixes, sentences, self.vocab))
                p_fake = real_probability(discriminator, discriminator_input(prefixes, fake, self.vocab))
                correct += int((p_real > 0.5).sum()) + int((p_fake <= 0.5).sum())
                seen += 2 * len(index)
                if decode is not None and len(texts) < self.eval_samples:
                    texts += decode(fake[: self.eval_samples - len(texts)])
        loss = nll / max(count, 1)
        out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "d_accuracy": correct / max(seen, 1)}
        if texts:
            out["bleu4"] = references.bleu(texts)
            out["self_bleu4"] = self_bleu(texts)
        return out


def conditional_gumbel(logits: torch.Tensor, tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gumbel noise ``g`` ``(B, L, V)`` such that ``argmax(logits + g)`` is ``tokens``, distributed as the
    noise that would have sampled them (the top Gumbel is drawn for the maximum, the others truncated below it)."""
    device = logits.device
    u = torch.rand(logits.shape, generator=generator).to(device).clamp(1e-10, 1 - 1e-10)
    u_top = torch.rand((*logits.shape[:-1], 1), generator=generator).to(device).clamp(1e-10, 1 - 1e-10)
    log_z = torch.logsumexp(logits, dim=-1, keepdim=True)  # (B, L, 1)
    top = log_z - torch.log(-torch.log(u_top))  # the maximum is Gumbel(log Z) distributed
    finite = torch.isfinite(logits)
    shifted = torch.where(finite, logits, torch.zeros_like(logits))
    # Gumbel(logit) truncated at the maximum: -log(exp(-top) - log(u) * exp(-logit)) ... written stably
    others = -torch.logaddexp(-top, torch.log(-torch.log(u)) - shifted)
    perturbed = torch.where(finite, others, torch.full_like(logits, float("-inf")))
    perturbed.scatter_(-1, tokens[..., None], top)
    return torch.where(finite, perturbed - shifted, torch.zeros_like(logits))
