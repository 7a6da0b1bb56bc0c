"""The Word2Vec embedder: training on a real corpus, gensim's own evaluations, files, neighbours."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import nlpzoo

pytest.importorskip("gensim")

from nlpzoo_training.run import Run  # noqa: E402

SMALL = {"vector_size": 32, "epochs": 3, "min_count": 2, "workers": 1}  # one worker: gensim is then deterministic


@pytest.fixture(scope="module")
def lee():
    return nlpzoo.build("lee").load()


@pytest.fixture(scope="module")
def trained(lee, module_folder):
    run = Run.standalone(module_folder("w2v"), seed=0)
    model = nlpzoo.build({"name": "word2vec", **SMALL})
    metrics = model.fit(lee, run)
    return model, metrics, run


def test_fit_reports_gensim_evaluations(trained):
    from gensim.test.utils import datapath

    model, metrics, run = trained
    for key in ("wordsim353_spearman", "wordsim353_pearson", "analogy_accuracy", "vocab_size", "val_oov_rate"):
        assert key in metrics
    assert metrics["analogy_questions"] > 0
    # the numbers are gensim's own, on gensim's own files
    _, spearman, _ = model.wv.evaluate_word_pairs(datapath("wordsim353.tsv"), case_insensitive=True)
    assert metrics["wordsim353_spearman"] == pytest.approx(spearman[0])
    accuracy, _ = model.wv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000,
                                                   case_insensitive=True)
    assert metrics["analogy_accuracy"] == pytest.approx(accuracy)
    logged = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in logged if "words_per_sec" in r] == [1, 2, 3]
    assert (run.dir / "tokenizer.json").exists()


def test_same_seed_same_vectors(lee, tmp_path, trained):
    model, _, _ = trained
    again = nlpzoo.build({"name": "word2vec", **SMALL})
    again.fit(lee, Run.standalone(tmp_path, seed=0))
    assert again.wv.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(again.wv.vectors, model.wv.vectors)


def test_architecture_reaches_gensim(lee, tmp_path):
    model = nlpzoo.build({"name": "word2vec", "architecture": "cbow", "vector_size": 16, "epochs": 1,
                          "min_count": 3, "workers": 1, "negative": 0, "hierarchical_softmax": True})
    sentences = [s.split() for s in (ex["text"].lower() for ex in lee["train"][:50])]
    model.fit_tokens(sentences, seed=1)
    assert model.wv.vector_size == 16
    assert "the" in model.wv.key_to_index


def test_save_load_word2vec_format_no_pickle(trained, tmp_path):
    from gensim.models import KeyedVectors

    model, _, _ = trained
    model.save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["component.json", "tokenizer.json", "vectors.bin"]
    plain = KeyedVectors.load_word2vec_format(str(tmp_path / "m" / "vectors.bin"), binary=True)
    np.testing.assert_allclose(plain.vectors, model.wv.vectors)
    loaded = type(model).load(str(tmp_path / "m"))
    assert loaded.neighbors("government", 5) == model.neighbors("government", 5)
    np.testing.assert_allclose(loaded.embed_batch(["The government said"]), model.embed_batch(["The government said"]))


def test_pretrained_from_directory_and_file(trained, tmp_path):
    model, _, _ = trained
    model.save(tmp_path / "run" / "model")
    from_run = nlpzoo.build({"name": "word2vec", "pretrained": str(tmp_path / "run")})
    assert from_run.is_trained and from_run.word_vectors()[0] == model.word_vectors()[0]
    model.wv.save_word2vec_format(str(tmp_path / "vectors.txt"), binary=False)
    from_text = nlpzoo.build({"name": "word2vec", "pretrained": str(tmp_path / "vectors.txt")})
    assert len(from_text.word_vectors()[0]) == len(model.word_vectors()[0])
    with pytest.raises(FileNotFoundError, match="not found"):
        nlpzoo.build({"name": "word2vec", "pretrained": str(tmp_path / "missing.bin")}).word_vectors()


def test_embedder_interface(trained):
    model, _, _ = trained
    words, vectors = model.word_vectors()
    assert vectors.shape == (len(words), 32)
    out = model.embed_batch(["the government", "qqqzzz unknownword", ""])
    assert out.shape == (3, 32)
    assert np.abs(out[0]).sum() > 0 and np.abs(out[1]).sum() == 0 and np.abs(out[2]).sum() == 0
    near = model.neighbors("police", 3)
    assert len(near) == 3 and all(w != "police" for w, _ in near)
    assert near[0][1] >= near[1][1] >= near[2][1]
    with pytest.raises(KeyError, match="not in the vocabulary"):
        model.neighbors("qqqzzz")


def test_untrained_word2vec_says_what_to_do():
    with pytest.raises(RuntimeError, match="pretrained"):
        nlpzoo.build("word2vec").word_vectors()


@pytest.mark.slow
def test_cli_train_and_neighbors(tmp_path):
    recipe = tmp_path / "w2v.yaml"
    recipe.write_text("seed: 0\ndataset: lee\nmodel: {name: word2vec, vector_size: 24, epochs: 2, workers: 1}\n")
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run_dir)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "wordsim353_spearman" in out.stdout and "test_oov_rate" in out.stdout
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "neighbors", str(run_dir), "police", "-k", "4"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 4 and all(len(line.split("\t")) == 2 for line in lines)


def test_plugin_module_imports_no_gensim():
    code = ("import sys, nlpzoo_word2vec.plugin, nlpzoo_word2vec.models; "
            "print(sorted(m for m in ('gensim', 'torch', 'tokenizers', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
