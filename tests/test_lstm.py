"""The LSTM classifier and language model, the shared tokenizer, and embedding initialisation."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import nlpzoo

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from nlpzoo_training.tokenization import TextTokenizer, align_vectors  # noqa: E402
from nlpzoo_training.run import Run  # noqa: E402

# Tiny networks gain nothing from a second thread, and on a busy machine thread hand-offs dominate.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY_CLS = {"embedding_dim": 24, "hidden_size": 24}
TINY_LM = {"embedding_dim": 32, "hidden_size": 32, "num_layers": 2, "bptt": 16, "vocab_size": 2000}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def polarity():
    return nlpzoo.build("polarity-200").load()


@pytest.fixture(scope="module")
def hamlet():
    data = nlpzoo.build("hamlet").load()
    return {"train": data["train"][:40], "validation": data["validation"][:6], "test": data["test"][:6]}


def read_metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# -- tokenizer -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["word", "bpe", "char"])
def test_tokenizer_kinds_round_trip(kind, tmp_path, polarity):
    texts = [ex["text"] for ex in polarity["train"]]
    tok = TextTokenizer.train(texts, kind, vocab_size=3000)
    assert tok.vocab()[:3] == ["[PAD]", "[UNK]", "[EOS]"] and tok.vocab_size <= 3000
    sentence = texts[0]  # "simplistic , silly and tedious ."
    ids = tok.encode(sentence)
    assert ids and tok.unk_id not in ids
    assert tok.decode(ids).replace(" ", "") == sentence.replace(" ", "")
    tok.save(tmp_path / "tokenizer.json")
    again = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert again.kind == kind and again.encode(sentence) == ids
    stream = tok.stream(["one film", "two films"])
    assert stream.count(tok.eos_id) == 2 and stream[-1] == tok.eos_id


def test_word_tokenizer_unknown_words_and_tokens(polarity):
    tok = TextTokenizer.train([ex["text"] for ex in polarity["train"]], "word", min_frequency=2)
    tokens = tok.tokens(["the film is qqqzzz ."])[0]
    assert tokens == ["the", "film", "is", "[UNK]", "."]


def test_align_vectors_reports_coverage(polarity):
    tok = TextTokenizer.train(["the cat sat", "the dog sat"], "word")
    words = ["The", "cat", "sat", "bird"]  # case differs for "the"; "dog" has no vector
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    matrix, report = align_vectors(tok, words, vectors, counts={tok.encode("the")[0]: 2, tok.encode("dog")[0]: 1})
    assert matrix.shape == (tok.vocab_size, 3)
    np.testing.assert_array_equal(matrix[tok.encode("cat")[0]], vectors[1])
    np.testing.assert_array_equal(matrix[tok.encode("the")[0]], vectors[0])
    assert (matrix[tok.pad_id] == 0).all()
    assert report["vocab_coverage"] == pytest.approx(3 / 4)
    assert report["token_coverage"] == pytest.approx(2 / 3)


# -- classifier ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(polarity, module_folder):
    run = Run.standalone(module_folder("cls"), seed=0,
                         train={"epochs": 12, "batch_size": 16, "metric": "accuracy", "progress": False},
                         optimizer={"name": "adamw", "lr": 5e-3})
    model = nlpzoo.build({"name": "lstm-classifier", **TINY_CLS})
    metrics = model.fit(polarity, run)
    return model, metrics, run


@pytest.mark.slow
def test_classifier_learns_and_reports(classifier, polarity):
    model, metrics, run = classifier
    assert set(metrics) >= {"val_accuracy", "val_macro_f1", "val_loss"}
    train_acc = model.evaluate(polarity["train"])["accuracy"]
    assert train_acc > 0.9  # it fits what it was trained on
    test = model.evaluate(polarity["test"])
    # macro F1 is the mean over labels of each label's F1, from the model's own predictions
    predicted = [p["label"] for p in model.predict([ex["text"] for ex in polarity["test"]])]
    true = [ex["label"] for ex in polarity["test"]]
    f1s = []
    for label in model.labels:
        hits = sum(p == t == label for p, t in zip(predicted, true))
        f1s.append(2 * hits / (predicted.count(label) + true.count(label)) if hits else 0.0)
    assert test["macro_f1"] == pytest.approx(sum(f1s) / len(f1s)) and test["loss"] > 0


@pytest.mark.slow
def test_classifier_predict_and_save_load(classifier, tmp_path):
    model, _, _ = classifier
    texts = ["a moving and beautiful film", "tedious , silly and boring", ""]
    preds = model.predict(texts)
    assert [sorted(p["probabilities"]) for p in preds] == [["neg", "pos"]] * 3
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-5 for p in preds)
    assert all(p["label"] == max(p["probabilities"], key=p["probabilities"].get) for p in preds)
    model.save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["component.json", "learned.json", "model.safetensors", "tokenizer.json"]
    loaded = type(model).load(str(tmp_path / "m"))
    for a, b in zip(preds, loaded.predict(texts)):
        assert a["label"] == b["label"] and a["probabilities"]["pos"] == pytest.approx(b["probabilities"]["pos"], abs=1e-6)


@pytest.mark.parametrize("pooling,bidirectional", [("mean", True), ("last", False), ("last", True)])
def test_classifier_poolings_respect_padding(pooling, bidirectional):
    from nlpzoo_training import pad_sequences as pad_batch
    from nlpzoo_lstm.nets import LSTMClassifierNet

    torch.manual_seed(0)
    net = LSTMClassifierNet(50, 8, 8, 2, 3, bidirectional=bidirectional, pooling=pooling).eval()
    alone = net(*pad_batch([[5, 6, 7]], 0, 20))
    padded = net(*pad_batch([[5, 6, 7], list(range(1, 12))], 0, 20))[:1]
    torch.testing.assert_close(alone, padded)  # a short text scores the same beside a long one


@pytest.mark.slow
def test_classifier_cli_train_predict(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 0\ndataset: polarity-200\n"
                      "model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}\n"
                      "train: {epochs: 2, batch_size: 32, metric: accuracy}\n")
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run_dir)],
                         env=ONE_THREAD, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "test_accuracy" in out.stdout and "confusion matrix" in out.stdout
    texts = tmp_path / "texts.txt"
    texts.write_text("a fine film\nan awful mess\n")
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "predict", str(run_dir), "--file", str(texts)],
                         env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in ("neg", "pos") and lines[1].endswith("an awful mess")


# -- language model ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def language_model(hamlet, module_folder):
    run = Run.standalone(module_folder("lm"), seed=0,
                         train={"epochs": 2, "batch_size": 8, "metric": "perplexity", "progress": False},
                         optimizer={"name": "adamw", "lr": 5e-3})
    model = nlpzoo.build({"name": "lstm-lm", **TINY_LM})
    metrics = model.fit(hamlet, run)
    return model, metrics, run


@pytest.mark.slow
def test_lm_perplexity(language_model, hamlet):
    model, metrics, run = language_model
    vocab = model.tokenizer.vocab_size
    assert 1 < metrics["val_perplexity"] < vocab  # better than uniform over the vocabulary
    assert metrics["val_perplexity"] == pytest.approx(math.exp(metrics["val_loss"]), rel=1e-6)
    test = model.evaluate(hamlet["test"])
    assert test["perplexity"] == pytest.approx(math.exp(test["loss"])) and test["tokens"] > 100
    train_losses = [r["train_loss"] for r in read_metrics(run.dir) if "train_loss" in r]
    assert train_losses[-1] < train_losses[0]


@pytest.mark.slow
def test_lm_weights_tied_and_saved_once(language_model, tmp_path):
    from safetensors import safe_open

    model, _, _ = language_model
    assert model.net.decoder.weight is model.net.embedding.weight
    model.save(tmp_path / "m")
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as fh:
        keys = list(fh.keys())
    assert sum(k.endswith("embedding.weight") or k.endswith("decoder.weight") for k in keys) == 1
    loaded = type(model).load(str(tmp_path / "m"))
    assert loaded.net.decoder.weight is loaded.net.embedding.weight
    torch.testing.assert_close(loaded.net.decoder.weight, model.net.decoder.weight)


@pytest.mark.slow
def test_lm_generation_seeded(language_model, tmp_path):
    model, _, _ = language_model
    a = model.generate("to be", max_tokens=12, temperature=0.9, top_k=20, top_p=0.95, seed=1)
    b = model.generate("to be", max_tokens=12, temperature=0.9, top_k=20, top_p=0.95, seed=1)
    others = {model.generate("to be", max_tokens=12, seed=s) for s in range(2, 6)}
    assert a == b and a.startswith("to be") and len(a.split()) > 2
    assert len(others) > 1  # different seeds, different continuations
    greedy = model.generate("to be", max_tokens=8, temperature=0)
    assert greedy == model.generate("to be", max_tokens=8, top_k=1, seed=7)
    model.save(tmp_path / "m")
    assert type(model).load(str(tmp_path / "m")).generate("to be", max_tokens=12, temperature=0.9, top_k=20,
                                                         top_p=0.95, seed=1) == a


def test_sampling_filters():
    from nlpzoo_lstm.nets import LSTMLanguageModelNet, sample

    torch.manual_seed(0)
    net = LSTMLanguageModelNet(30, 8, 8, 1)
    greedy = sample(net, [1, 2], max_tokens=6, temperature=0)
    assert sample(net, [1, 2], max_tokens=6, top_k=1, seed=3) == greedy
    assert sample(net, [1, 2], max_tokens=6, top_p=1e-6, seed=4) == greedy  # the nucleus keeps only the top token
    assert 0 not in sample(net, [1, 2], max_tokens=40, temperature=5.0, banned=[0], seed=5)


def test_lm_task_state_resumes_mid_epoch(hamlet, tmp_path):
    """The carried LSTM state goes into checkpoints, so a resumed window sees the same state."""
    from nlpzoo_lstm import nets

    run = Run.standalone(tmp_path, seed=0, train={"batch_size": 4})
    tok = TextTokenizer.train([ex["text"] for ex in hamlet["train"]], "word", vocab_size=500)
    torch.manual_seed(0)
    net = nets.LSTMLanguageModelNet(tok.vocab_size, 16, 16, 1, dropout=0.0, embedding_dropout=0.0).eval()
    streams = {"train": torch.as_tensor(tok.stream([ex["text"] for ex in hamlet["train"]]))}
    task = nets.LanguageModelTask(net, streams, run=run, bptt=8)
    batches = list(task.train_batches(0))
    task.on_epoch_start(0)
    task.training_step(batches[0], "model")
    saved = task.state_dict()
    expected = task.training_step(batches[1], "model")[0]
    fresh = nets.LanguageModelTask(net, streams, run=run, bptt=8)
    fresh.on_epoch_start(0)
    fresh.load_state_dict(saved)
    torch.testing.assert_close(fresh.training_step(batches[1], "model")[0], expected)
    cold = nets.LanguageModelTask(net, streams, run=run, bptt=8)
    assert not torch.allclose(cold.training_step(batches[1], "model")[0], expected)


@pytest.mark.parametrize("kind,vocab", [("char", 100), ("bpe", 600)])
def test_char_and_bpe_lm(kind, vocab, hamlet, tmp_path):
    run = Run.standalone(tmp_path, seed=0, train={"epochs": 1, "batch_size": 8, "max_steps": 20,
                                                  "metric": "perplexity", "progress": False})
    model = nlpzoo.build({"name": "lstm-lm", "tokenizer": kind, "vocab_size": vocab, "embedding_dim": 16,
                          "hidden_size": 32, "num_layers": 1, "bptt": 32})
    metrics = model.fit(hamlet, run)
    assert model.tokenizer.kind == kind and model.tokenizer.vocab_size <= vocab
    assert metrics["val_perplexity"] < model.tokenizer.vocab_size
    assert model.net.proj is not None  # tied weights with hidden 32 and embedding 16: projected
    text = model.generate("Ham", max_tokens=15, seed=0)
    assert text.startswith("Ham") and len(text) > 3
    if kind == "char":
        assert len(text) <= 18


# -- embedding initialisation --------------------------------------------------------------------
def test_classifier_embedding_from_untrained_word2vec_is_frozen(polarity, tmp_path):
    pytest.importorskip("gensim")
    run = Run.standalone(tmp_path, seed=0, train={"epochs": 1, "batch_size": 32, "progress": False})
    model = nlpzoo.build({"name": "lstm-classifier", "hidden_size": 16, "freeze_embeddings": True, "min_frequency": 1,
                          "embedder": {"name": "word2vec", "vector_size": 20, "min_count": 1, "epochs": 2, "workers": 1}})
    model.fit(polarity, run)
    words, vectors = model.embedder.word_vectors()
    assert vectors.shape[1] == 20 and model.net.embedding.weight.shape[1] == 20
    # the embedder learned on this model's own tokens, so every token has its vector
    assert set(words) <= set(model.tokenizer.vocab())
    for w in ("film", "the", "."):
        np.testing.assert_allclose(model.net.embedding.weight[model.tokenizer.encode(w)[0]].detach().numpy(),
                                   vectors[words.index(w)])
    assert not model.net.embedding.weight.requires_grad
    coverage = [r for r in read_metrics(run.dir) if "embedding_vocab_coverage" in r]
    assert coverage and coverage[0]["embedding_token_coverage"] > 0.95


def test_lm_embedding_from_trained_word2vec_run(hamlet, tmp_path):
    pytest.importorskip("gensim")
    w2v = nlpzoo.build({"name": "word2vec", "vector_size": TINY_LM["embedding_dim"], "min_count": 3, "epochs": 1,
                        "workers": 1})
    w2v.fit(nlpzoo.build("lee").load(), Run.standalone(tmp_path / "w2v", seed=0))
    w2v.save(tmp_path / "w2v" / "model")
    run = Run.standalone(tmp_path / "lm", seed=0, train={"epochs": 1, "batch_size": 8, "max_steps": 5,
                                                          "metric": "perplexity", "progress": False})
    model = nlpzoo.build({"name": "lstm-lm", **TINY_LM,
                          "embedder": {"name": "word2vec", "pretrained": str(tmp_path / "w2v")}})
    model.fit(hamlet, run)
    report = model.embedding_report
    assert 0.2 < report["embedding_vocab_coverage"] < 1.0  # news vectors for Shakespeare: partial, and reported
    assert model.net.embedding.weight.requires_grad and model.net.decoder.weight is model.net.embedding.weight


def test_models_module_imports_no_torch():
    code = ("import sys, nlpzoo_lstm.plugin, nlpzoo_lstm.models, nlpzoo_training.tokenization; "
            "print(sorted(m for m in ('torch', 'tokenizers', 'gensim', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_lm_cli_train_generate(tmp_path):
    recipe = tmp_path / "lm.yaml"
    recipe.write_text("seed: 0\ndataset: hamlet\n"
                      "model: {name: lstm-lm, embedding_dim: 32, hidden_size: 32, num_layers: 1, vocab_size: 2000,\n"
                      "        embedder: {name: word2vec, vector_size: 32, epochs: 1, workers: 1}}\n"
                      "train: {epochs: 1, batch_size: 16, max_steps: 30, metric: perplexity}\n")
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run_dir)],
                         env=ONE_THREAD, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "test_perplexity" in out.stdout and "embedding initialised from Word2Vec" in out.stdout
    gen = [sys.executable, "-m", "nlpzoo.cli", "generate", str(run_dir), "--prompt", "the king", "--max-tokens", "10",
           "--top-k", "20", "--seed", "3"]
    first = subprocess.run(gen, env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    second = subprocess.run(gen, env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("the king")


def test_both_lstm_networks_run_under_bf16_autocast_on_any_cpu():
    """oneDNN builds a bf16 LSTM only on processors with bf16 kernels; elsewhere the LSTM runs in fp32."""
    from nlpzoo_lstm.nets import LSTMClassifierNet, LSTMLanguageModelNet

    ids, lengths = torch.randint(1, 50, (4, 7)), torch.tensor([7, 5, 3, 2])
    classifier = LSTMClassifierNet(50, 8, 8, 2, 3)
    lm = LSTMLanguageModelNet(50, 8, 8, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = classifier(ids, lengths)
        next_words, _ = lm(ids)
    (logits.float().sum() + next_words.float().sum()).backward()
    assert logits.shape == (4, 3) and next_words.shape == (4, 7, 50)
    assert classifier.lstm.weight_ih_l0.grad is not None and torch.isfinite(classifier.lstm.weight_ih_l0.grad).all()
