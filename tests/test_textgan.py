"""Text GANs: the CNN sentence classifier, SeqGAN's roll-out rewards and adversarial steps, class-conditional
sampling, saving, and ``nlpzoo sample`` for text and image GANs."""
from __future__ import annotations

import json

import pytest

import nlpzoo

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from nlpzoo_testing import check_component, check_plugin  # noqa: E402
from nlpzoo_training import Run  # noqa: E402
from nlpzoo_textgan.bleu import ReferenceSet, self_bleu  # noqa: E402
from nlpzoo_textgan.cnn_nets import KimCNN  # noqa: E402
from nlpzoo_textgan.policy import (Game, Vocabulary, conditional_gumbel, rollout_rewards,  # noqa: E402
                                   sample)

V, PAD, UNK, EOS = 40, 0, 1, 2
VOCAB = Vocabulary(V, PAD, EOS, banned=(PAD, UNK))
TINY_LM = {"name": "lstm-lm", "embedding_dim": 16, "hidden_size": 16, "num_layers": 1, "bptt": 12, "min_frequency": 1}
TINY_D = {"name": "cnn-classifier", "embedding_dim": 8, "num_filters": 4, "filter_sizes": [2, 3]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def polarity():
    return nlpzoo.build("polarity-200").load()


def tiny_generator():
    from nlpzoo_transformer.nets import TransformerNet

    torch.manual_seed(0)
    return TransformerNet(V, 16, 1, 2, 32, dropout=0.0)


def tiny_discriminator():
    torch.manual_seed(1)
    return KimCNN(V, 8, 2, filter_sizes=(2, 3), num_filters=4, dropout=0.0, pad_id=PAD)


# ---------------------------------------------------------------- the discriminator's network


def test_the_cnn_reads_ids_and_token_distributions_alike_whatever_the_padding():
    net = tiny_discriminator().eval()
    ids = torch.tensor([[5, 6, 7, EOS, PAD, PAD], [9, 3, PAD, PAD, PAD, PAD]])
    with torch.no_grad():
        from_ids = net(ids)
        from_one_hot = net(torch.nn.functional.one_hot(ids, V).float())
        trimmed = net(ids[:, :4])  # less padding in the batch
        alone = net(ids[1:, :2])  # a 2-token text is shorter than the widest filter
    torch.testing.assert_close(from_one_hot, from_ids)
    torch.testing.assert_close(trimmed, from_ids)
    torch.testing.assert_close(alone, from_ids[1:])


# ---------------------------------------------------------------- sampling and rewards


def test_sampling_stops_at_the_end_token_and_is_seeded():
    net = tiny_generator()
    prefixes = torch.full((6, 1), EOS)
    a = sample(net, prefixes, 10, VOCAB, torch.Generator().manual_seed(3))
    b = sample(net, prefixes, 10, VOCAB, torch.Generator().manual_seed(3))
    assert torch.equal(a.tokens, b.tokens) and a.tokens.shape == (6, 10)
    assert not torch.isin(a.tokens, torch.tensor([UNK])).any()  # banned tokens are never drawn
    for row, n in zip(a.tokens.tolist(), a.lengths.tolist()):
        assert all(t != PAD for t in row[:n]) and all(t == PAD for t in row[n:])  # padding only after the sentence
        assert EOS not in row[:n - 1] and (row[n - 1] == EOS or n == 10)
    first = sample(net, prefixes[:2], 10, VOCAB, torch.Generator().manual_seed(3))
    assert torch.equal(first.tokens, a.tokens[:2])  # a sentence's draws do not depend on how many are drawn


def test_rollout_rewards_give_one_value_per_token_and_the_whole_sentence_its_score():
    net, disc = tiny_generator(), tiny_discriminator()
    prefixes = torch.full((5, 1), EOS)
    sentences = sample(net, prefixes, 8, VOCAB, torch.Generator().manual_seed(0))
    rewards = rollout_rewards(net, disc, prefixes, sentences, VOCAB, rollouts=3, generator=torch.Generator().manual_seed(1))
    assert rewards.shape == (5, 8)
    lengths = sentences.lengths
    inside = torch.arange(8)[None, :] < lengths[:, None]
    assert ((rewards > 0) & (rewards < 1))[inside].all() and (rewards[~inside] == 0).all()
    with torch.no_grad():
        whole = torch.softmax(disc.eval()(sentences.tokens), -1)[:, 1]
    torch.testing.assert_close(rewards[torch.arange(5), lengths - 1], whole)
    again = rollout_rewards(net, disc, prefixes, sentences, VOCAB, rollouts=3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, rewards)


def test_relaxed_noise_reproduces_the_sampled_tokens():
    logits = torch.randn(3, 5, V, generator=torch.Generator().manual_seed(0))
    logits[..., PAD] = float("-inf")
    tokens = torch.randint(3, V, (3, 5), generator=torch.Generator().manual_seed(1))
    noise = conditional_gumbel(logits, tokens, torch.Generator().manual_seed(2))
    assert torch.equal((logits + noise).argmax(-1), tokens) and torch.isfinite(noise).all()


@pytest.mark.parametrize("relaxation", ["none", "gumbel"])
def test_the_adversarial_step_changes_the_generator(relaxation):
    net, disc = tiny_generator(), tiny_discriminator()
    game = Game(VOCAB, length=8, rollouts=2, relaxation=relaxation, gumbel_temperature=0.5, mle_weight=0.1, eval_samples=0)
    prefixes = torch.full((4, 1), EOS)
    real = torch.tensor([[5, 6, EOS, PAD, PAD, PAD, PAD, PAD]] * 4)
    batch = (prefixes, real, torch.full((4,), 11))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss, logs = game.generator_loss(net, net, disc, batch)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and 0 < float(logs["reward"]) < 1 and "mle_loss" in logs
    moved = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert "embedding.weight" in moved and any(k.startswith("blocks.0.attention") for k in moved)
    d_loss, d_logs = game.discriminator_loss(net, disc, batch)
    assert torch.isfinite(d_loss) and {"d_real", "d_fake"} <= set(d_logs)


# ---------------------------------------------------------------- BLEU


def test_bleu_rewards_overlap_and_self_bleu_rewards_repetition():
    refs = ReferenceSet(["the film is a quiet triumph .", "a dull , lifeless movie ."])
    assert refs.bleu(["the film is a quiet triumph ."]) == pytest.approx(1.0)
    assert refs.bleu(["zebra quantum"]) == 0.0
    assert self_bleu(["a good film .", "a good film .", "a good film ."]) == pytest.approx(1.0)
    assert self_bleu(["a good film .", "terrible acting throughout", "what a mess"]) < 0.2


# ---------------------------------------------------------------- components


@pytest.mark.slow
def test_plugin_and_components_conform():
    check_plugin("textgan")
    check_component("classifier", "cnn-classifier", {"num_filters": 8})
    check_component("gan", "seqgan", {"generator": TINY_LM})
    with pytest.raises(nlpzoo.ConfigError, match="either as a language model spec"):
        nlpzoo.build({"name": "seqgan"}, "gan")
    with pytest.raises(nlpzoo.ConfigError, match="filter widths"):
        nlpzoo.build({"name": "cnn-classifier", "filter_sizes": []}, "classifier")
    with pytest.raises(nlpzoo.ConfigError, match=r"filter_sizes.1: expected 1 <= filter_sizes\[1\] <= 10000, got 0"):
        nlpzoo.build({"name": "cnn-classifier", "filter_sizes": [2, 0]}, "classifier")


@pytest.mark.parametrize("pretrain,message", [
    ({"epoch": 2}, r"pretrain.epoch: unknown training setting 'epoch'.*epochs"),
    ({"batch_size": 0}, r"pretrain.batch_size: expected batch_size >= 1, got 0"),
    ({"device": "gpu"}, r"pretrain.device: expected auto, cpu, cuda"),
])
def test_seqgan_checks_its_pretraining_settings_when_built(pretrain, message):
    with pytest.raises(nlpzoo.ConfigError, match=message):
        nlpzoo.build({"name": "seqgan", "generator": TINY_LM, "pretrain": pretrain}, "gan")
    with pytest.raises(nlpzoo.ConfigError, match=r"rollouts: expected 1 <= rollouts <= 10000, got 0"):
        nlpzoo.build({"name": "seqgan", "generator": TINY_LM, "rollouts": 0}, "gan")


def test_the_cnn_classifier_trains_predicts_and_saves(polarity, tmp_path):
    model = nlpzoo.build({**TINY_D, "num_filters": 16}, "classifier")
    run = Run.standalone(tmp_path / "run", seed=0, train={"epochs": 3, "batch_size": 16, "metric": "accuracy",
                                                          "progress": False, "plots": False})
    metrics = model.fit(polarity, run)
    assert model.labels == ["neg", "pos"]
    predicted = [p["label"] for p in model.predict([ex["text"] for ex in polarity["validation"]])]
    right = sum(p == ex["label"] for p, ex in zip(predicted, polarity["validation"]))
    assert metrics["val_accuracy"] == pytest.approx(right / len(predicted))  # the kept weights' own score
    probs = model.predict_proba(["a gorgeous , witty film", "dull"])
    assert probs.shape == (2, 2) and abs(probs.sum(1) - 1).max() < 1e-5
    model.save(tmp_path / "model")
    back = type(model).load(tmp_path / "model")
    assert back.evaluate(polarity["test"]) == model.evaluate(polarity["test"])


@pytest.mark.slow
def test_a_cnn_classifier_run_predicts_from_the_command_line(tmp_path, cli):
    from nlpzoo_training import train_recipe

    (tmp_path / "cnn.yaml").write_text(
        "seed: 0\ndataset: polarity-200\n"
        f"model: {json.dumps(TINY_D)}\n"
        "train: {epochs: 1, max_steps: 2, batch_size: 8, metric: accuracy, progress: false, plots: false}\n")
    train_recipe(nlpzoo.load_recipe(tmp_path / "cnn.yaml"), tmp_path / "run")
    assert (tmp_path / "run" / "model" / "README.md").is_file()  # a classifier's model card, recorded with the model
    done = cli("predict", str(tmp_path / "run"), "a gorgeous , witty film", "dull", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 3  # a header and one row a text


SEQGAN = {"name": "seqgan", "generator": TINY_LM, "pretrain": {"epochs": 1, "batch_size": 8},
          "discriminator": TINY_D, "discriminator_steps": 2, "max_length": 12, "rollouts": 2, "eval_samples": 10}


def tiny_run(path, **train):
    return Run.standalone(path, seed=0, train={"epochs": 1, "max_steps": 2, "batch_size": 8, "progress": False,
                                               "plots": False, "keep_best": False, "log_every": 1, **train})


@pytest.fixture(scope="module")
def conditional(polarity, module_folder):
    run_dir = module_folder("seqgan")
    gan = nlpzoo.build({**SEQGAN, "conditional": True}, "gan")
    metrics = gan.fit(polarity, tiny_run(run_dir))
    return gan, metrics, run_dir


def test_seqgan_pretrains_then_plays_and_keeps_both_generators(conditional):
    gan, metrics, run_dir = conditional
    assert {"val_loss", "val_perplexity", "val_d_accuracy", "val_bleu4", "val_self_bleu4"} <= set(metrics)
    for phase in ("pretrain-generator", "pretrain-discriminator"):
        assert (run_dir / phase / "metrics.jsonl").is_file(), phase
    assert (run_dir / "pretrained-generator" / "tokenizer.json").is_file()  # the generator as maximum likelihood left it
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("train_generator_loss" in r and "train_reward" in r for r in records)


def test_conditional_samples_carry_their_labels_and_are_seeded(conditional):
    gan, _, _ = conditional
    examples = gan.sample_examples(6, seed=4)
    assert [ex["label"] for ex in examples] == ["neg", "pos"] * 3  # labels cycle unless given
    assert gan.sample(6, seed=4) == [ex["text"] for ex in examples]
    assert gan.sample(2, seed=4) == gan.sample(6, seed=4)[:2]
    assert gan.sample(6, seed=5) != gan.sample(6, seed=4)
    assert all("__label" not in t and "[UNK]" not in t for t in gan.sample(20, seed=6, labels="pos", temperature=2.0))
    with pytest.raises(ValueError, match="among"):
        gan.sample(2, labels=["pos", "meh"])


def test_seqgan_saves_and_loads(conditional, polarity, tmp_path):
    gan, _, _ = conditional
    gan.save(tmp_path / "model")
    back = type(gan).load(tmp_path / "model")
    assert back.labels == ["neg", "pos"] and back.sample(5, seed=1) == gan.sample(5, seed=1)
    assert back.evaluate(polarity["test"]) == gan.evaluate(polarity["test"])


def test_a_transformer_generator_from_a_trained_run(polarity, tmp_path):
    from nlpzoo_training import train_recipe

    (tmp_path / "lm.yaml").write_text(
        "seed: 0\ndataset: polarity-200\n"
        "model: {name: transformer-lm, d_model: 16, num_layers: 1, num_heads: 2, block_size: 24, min_frequency: 1}\n"
        "train: {epochs: 1, batch_size: 8, progress: false, plots: false}\n")
    train_recipe(nlpzoo.load_recipe(tmp_path / "lm.yaml"), tmp_path / "lm")
    gan = nlpzoo.build({**SEQGAN, "generator": None, "generator_run": str(tmp_path / "lm"),
                        "relaxation": "gumbel"}, "gan")
    gan.fit(polarity, tiny_run(tmp_path / "gan"))
    assert len(gan.sample(3, seed=0)) == 3
    gan.save(tmp_path / "model")
    assert type(gan).load(tmp_path / "model").sample(3, seed=0) == gan.sample(3, seed=0)
    with pytest.raises(nlpzoo.ConfigError, match="reads at most 24"):
        nlpzoo.build({**SEQGAN, "generator": None, "generator_run": str(tmp_path / "lm"), "max_length": 30},
                     "gan").fit(polarity, tiny_run(tmp_path / "long"))
    with pytest.raises(nlpzoo.ConfigError, match="knows the label tokens"):
        nlpzoo.build({**SEQGAN, "generator": None, "generator_run": str(tmp_path / "lm"), "conditional": True},
                     "gan").fit(polarity, tiny_run(tmp_path / "labels"))


# ---------------------------------------------------------------- nlpzoo sample, both modalities


@pytest.mark.slow
def test_sample_prints_sentences_for_a_text_gan_and_writes_a_grid_for_an_image_gan(tmp_path, cli):
    from nlpzoo_training import train_recipe
    from nlpzoo_textgan.seqgan import SeqGAN

    (tmp_path / "text.yaml").write_text(
        "seed: 0\ndataset: polarity-200\n"
        f"model: {json.dumps(SEQGAN)}\n"
        "train: {epochs: 1, max_steps: 2, batch_size: 8, keep_best: false, progress: false, plots: false}\n")
    train_recipe(nlpzoo.load_recipe(tmp_path / "text.yaml"), tmp_path / "text")
    done = cli("sample", str(tmp_path / "text"), "-n", "20", "--seed", "2")
    assert done.returncode == 0, done.stderr
    gan = SeqGAN.load(tmp_path / "text" / "model")
    assert done.stdout.splitlines() == gan.sample(20, seed=2)  # one sentence a line
    generated = json.loads((tmp_path / "text" / "samples" / "generated.json").read_text())
    assert [s["text"] for s in generated["samples"]] == gan.sample(8, seed=0)  # what the run's report shows
    assert gan.save_samples(gan.sample(3), tmp_path / "texts.txt") == f"wrote 3 texts to {tmp_path / 'texts.txt'}"
    assert len((tmp_path / "texts.txt").read_text().splitlines()) == 3  # what -o writes
    done = cli("sample", str(tmp_path / "text"), "-n", "5", "--seed", "2", "-o", "-")
    assert done.returncode == 0 and done.stdout.splitlines() == gan.sample(5, seed=2)  # -o -: the file's bytes
    done = cli("sample", str(tmp_path / "text"), "-n", "4", "-o", str(tmp_path / "new" / "s.txt"), "--parents")
    assert done.returncode == 0 and (tmp_path / "new" / "s.txt").read_text().splitlines() == gan.sample(4)
    refused = cli("sample", str(tmp_path / "text"), "--interpolate", "1", "2")
    assert refused.returncode != 0 and "cannot interpolate" in refused.stderr

    (tmp_path / "image.yaml").write_text(
        "seed: 0\ndataset: {name: mnist-5k, limit: 200}\n"
        "model: {name: dcgan, latent: 16, g_width: 8, d_width: 8, quality: false, grid: 16}\n"
        "train: {epochs: 1, max_steps: 2, batch_size: 16, clip_grad_norm: null, progress: false, plots: false}\n")
    train_recipe(nlpzoo.load_recipe(tmp_path / "image.yaml"), tmp_path / "image")
    done = cli("sample", str(tmp_path / "image"), "-n", "20", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "wrote 20 images to samples.png" in done.stdout and (tmp_path / "samples.png").is_file()
