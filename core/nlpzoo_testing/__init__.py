"""A conformance kit for plugin authors, usable from any pytest suite; a package of its own, beside the core.

    from nlpzoo_testing import check_component, check_plugin

    def test_my_plugin_registers_cleanly():
        check_plugin("my-plugin")

    def test_shout_augmenter_contract():
        check_component("augmenter", "shout", {"rate": 0.5})

Installed with nlpzoo as a pytest plugin, it also provides the ``nlpzoo_isolated`` fixture: a fresh
plugin manager holding only the plugins a test adds, restored afterwards.

``simulated_gpu()`` trains and runs a torch component as if on a GPU, on the CPU: device mistakes
(a batch, noise or prompt left on the CPU) fail as they would on CUDA. See :mod:`nlpzoo_testing.gpu`.
"""
from __future__ import annotations

import inspect
import math
import tempfile
from pathlib import Path

import pytest

from nlpzoo.kinds import INTERFACES

__all__ = ["SimulatedGPUError", "check_component", "check_entry", "check_plugin", "nlpzoo_isolated", "simulated_gpu"]


def simulated_gpu():
    """A context manager: the shared loop trains on a simulated ``cuda:0`` inside it (yields that device)."""
    from .gpu import simulated_gpu as simulated

    return simulated()


def __getattr__(name: str):
    if name == "SimulatedGPUError":
        from .gpu import SimulatedGPUError

        return SimulatedGPUError
    raise AttributeError(f"module 'nlpzoo_testing' has no attribute {name!r}")


def check_plugin(name: str) -> None:
    """The installed plugin ``name`` loaded, registered at least one entry, and every entry is complete."""
    from nlpzoo.config import preset_problems
    from nlpzoo.plugins import get_manager

    manager = get_manager()
    health = manager.health.get(name)
    assert health is not None, f"no plugin {name!r} among the entry points: {sorted(manager.health)}"
    assert health.status == "ok", f"plugin {name!r} {health.status}: {health.error} ({health.hint})"
    entries = [e for e in manager.registry.all() if e.provider == name]
    assert entries or health.presets, f"plugin {name!r} registered nothing"
    for entry in entries:
        check_entry(entry)
    for decl, problem in preset_problems(manager, name):
        raise AssertionError(f"{decl.where}: {problem}")
    import warnings

    for providers, line in manager.shadowed():
        if name in providers:
            warnings.warn(line, stacklevel=2)
    for warning in health.warnings:
        warnings.warn(f"plugin {name!r}: {warning}", stacklevel=2)


def check_entry(entry) -> None:
    """Metadata is complete and the target is an implementation of its kind's interface."""
    where = f"{entry.kind} {entry.name!r} of plugin {entry.provider!r}"
    assert entry.summary and "\n" not in entry.summary, f"{where}: needs a one-line summary"
    target = entry.load()
    interface = INTERFACES[entry.kind]
    assert inspect.isclass(target) and issubclass(target, interface), f"{where}: {entry.target} must subclass nlpzoo.{interface.__name__}"
    assert not inspect.isabstract(target), f"{where}: {entry.target} leaves abstract methods unimplemented: {sorted(target.__abstractmethods__)}"
    from nlpzoo.config import signature_of

    for pname, p in signature_of(target).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        assert p.annotation is not p.empty, f"{where}: parameter {pname!r} needs a type annotation (recipes are checked against it)"


def check_component(kind: str, name: str, params: dict | None = None, data: dict | None = None,
                    train: dict | None = None) -> object:
    """Build ``name`` from a spec and check the contract of its kind; returns the component.

    Models (language models, classifiers, GANs) are trained briefly on ``data`` (splits of examples; by
    default a small built-in text set, which GANs of images cannot use: give them ``data``) with the
    ``train:`` settings ``train``, then checked: metrics present, outputs deterministic by seed, and the
    same outputs after a save and load.
    """
    from nlpzoo.config import build
    from nlpzoo.plugins import get_manager

    check_entry(get_manager().registry.get(kind, name))
    component = build({"name": name, **(params or {})}, kind)
    contract = CONTRACTS.get(kind)
    if contract is not None:
        contract(component)
    model_contract = MODEL_CONTRACTS.get(kind)
    if model_contract is not None and (data is not None or getattr(component, "modality", "text") == "text"):
        settings = {**QUICK_TRAIN, **(train or {})}
        default = {"tagger": tiny_tagged_data, "regressor": tiny_scored_data,
                   "multilabel_classifier": tiny_label_set_data}.get(kind, tiny_text_data)
        with tempfile.TemporaryDirectory(prefix="nlpzoo-contract-") as scratch:  # saved models are large
            model_contract(component, data or default(), settings, Path(scratch) / "fitted")
            _resume_contract(lambda: build({"name": name, **(params or {})}, kind), data or default(), settings,
                             METRICS[kind], Path(scratch) / "resumed")
    return component


QUICK_TRAIN = {"epochs": 2, "batch_size": 8, "progress": False, "plots": False}
_GOOD = "fine moving warm clever funny bright lovely superb".split()
_BAD = "dull tedious flat silly boring clumsy weak awful".split()


def tiny_text_data() -> dict[str, list[dict]]:
    """64 short labelled sentences ("pos" / "neg") split 48 / 8 / 8: enough for a model to learn something."""
    import random

    rng = random.Random(0)
    examples = []
    for i in range(64):
        label = "pos" if i % 2 else "neg"
        words = rng.sample(_GOOD if label == "pos" else _BAD, 3)
        examples.append({"text": f"the film was {words[0]} and {words[1]} , a {words[2]} story .", "label": label})
    return {"train": examples[:48], "validation": examples[48:56], "test": examples[56:]}


_PEOPLE = "anna boris chen dana emil farah".split()
_PLACES = [["paris"], ["oslo"], ["new", "york"], ["cape", "town"]]


def tiny_tagged_data() -> dict[str, list[dict]]:
    """48 tagged sentences ("anna flew to new york .": B-PER O O B-LOC I-LOC O) split 32 / 8 / 8."""
    examples = []
    for i in range(48):
        place = _PLACES[i % len(_PLACES)]
        tokens = [_PEOPLE[i % len(_PEOPLE)], "flew" if i % 3 else "drove", "to", *place, "."]
        tags = ["B-PER", "O", "O", "B-LOC", *["I-LOC"] * (len(place) - 1), "O"]
        examples.append({"tokens": tokens, "tags": tags})
    return {"train": examples[:32], "validation": examples[32:40], "test": examples[40:]}


def tiny_scored_data() -> dict[str, list[dict]]:
    """48 short sentences with a score, the share of their three adjectives that are good, split 32 / 8 / 8."""
    import random

    rng = random.Random(0)
    examples = []
    for i in range(48):
        good = i % 4
        words = rng.sample(_GOOD, good) + rng.sample(_BAD, 3 - good)
        rng.shuffle(words)
        examples.append({"text": f"the film was {words[0]} , {words[1]} and {words[2]} .", "target": good / 3})
    return {"train": examples[:32], "validation": examples[32:40], "test": examples[40:]}


def tiny_label_set_data() -> dict[str, list[dict]]:
    """48 sentences naming 0 to 2 of three topics ("the film had music and jokes ." : music, comedy) split 32 / 8 / 8."""
    topics = {"music": "songs", "comedy": "jokes", "war": "battles"}
    examples = []
    for i in range(48):
        chosen = [t for j, t in enumerate(topics) if (i >> j) & 1][:2]
        named = " and ".join(topics[t] for t in chosen) or "nothing much"
        examples.append({"text": f"the film had {named} .", "labels": chosen})
    return {"train": examples[:32], "validation": examples[32:40], "test": examples[40:]}


def _fitted(model, data: dict, train: dict, metric: str, folder: Path) -> None:
    from nlpzoo_training import Run

    run = Run.standalone(folder / "run", seed=0, train={"metric": metric, **train})
    metrics = model.fit(data, run)
    assert isinstance(metrics, dict) and all(isinstance(v, float) for v in metrics.values()), \
        "fit must return the final metrics as floats"


def _reloaded(model, folder):
    model.save(folder / "saved")
    return type(model).load(folder / "saved")


def _resume_contract(build_model, data: dict, train: dict, metric: str, folder: Path) -> None:
    """A run stopped after step 3 and resumed must end with the metrics of a run never stopped."""
    from nlpzoo.kinds import Callback
    from nlpzoo_training import Run

    class StopAfterStep3(Callback):
        def on_step(self, run, step, logs):
            if step == 3:
                run.request_stop()

    # the last evaluation's metrics, not the best one's (which may come before the stop)
    settings = {"metric": metric, **train, "keep_best": False}

    def fit(name: str, **run_options) -> dict:
        run = Run.standalone(folder / name, seed=0, train=settings, **run_options)  # seeds, then the model is built
        return build_model().fit(data, run)

    whole = fit("whole")
    fit("stopped", callbacks=[StopAfterStep3()])
    resumed = fit("stopped", resume=True)
    differ = {k: (v, resumed.get(k)) for k, v in whole.items()
              if not (k in resumed and math.isclose(v, resumed[k], rel_tol=1e-6, abs_tol=1e-9))}
    assert not differ, f"a run stopped after step 3 and resumed must end as one never stopped; (whole, resumed): {differ}"


def _classifier_contract(model, data: dict, train: dict, folder: Path) -> None:
    import numpy as np

    from nlpzoo.kinds import model_input

    _fitted(model, data, train, "accuracy", folder)
    texts = [model_input(ex) for ex in data["test"]]  # sentence pairs as (text, text_pair)
    probs = np.asarray(model.predict_proba(texts))
    assert probs.shape == (len(texts), len(model.labels)), "predict_proba must give (texts, labels) probabilities"
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4) and (probs >= 0).all(), "each row of predict_proba must sum to 1"
    alone = np.vstack([np.asarray(model.predict_proba([text])) for text in texts[:4]])
    assert np.allclose(alone, probs[:4], atol=1e-4), \
        "a text's probabilities must not depend on the batch it is in (mask the padding)"
    assert np.allclose(np.asarray(model.predict_proba(texts[::-1]))[::-1], probs, atol=1e-4), \
        "a text's probabilities must not depend on the order of the batch"
    assert all(p["label"] in model.labels for p in model.predict(texts)), "predict must name one of the labels"
    scores = model.evaluate(data["test"])
    assert {"loss", "accuracy"} <= set(scores), f"evaluate must report loss and accuracy, got {sorted(scores)}"
    back = _reloaded(model, folder)
    assert back.labels == model.labels, "the labels must survive save and load"
    assert np.allclose(back.predict_proba(texts), probs, atol=1e-5), "a loaded classifier must predict as the saved one"


def _multilabel_contract(model, data: dict, train: dict, folder: Path) -> None:
    import numpy as np

    _fitted(model, data, train, "micro_f1", folder)
    texts = [ex["text"] for ex in data["test"]]
    scores = np.asarray(model.predict_scores(texts))
    assert scores.shape == (len(texts), len(model.labels)), "predict_scores must give (texts, labels) scores"
    assert ((scores >= 0) & (scores <= 1)).all(), "each score must be a probability of its own label"
    assert len(model.thresholds) == len(model.labels), "one threshold per label"
    alone = np.vstack([np.asarray(model.predict_scores([text])) for text in texts[:4]])
    assert np.allclose(alone, scores[:4], atol=1e-4), "a text's scores must not depend on the batch it is in"
    for p in model.predict(texts):
        assert set(p["labels"]) <= set(model.labels), "predict must name labels among the model's labels"
    metrics = model.evaluate(data["test"])
    assert {"loss", "micro_f1", "macro_f1", "subset_accuracy"} <= set(metrics), \
        f"evaluate must report loss, micro_f1, macro_f1 and subset_accuracy, got {sorted(metrics)}"
    back = _reloaded(model, folder)
    assert back.labels == model.labels and np.allclose(back.thresholds, model.thresholds), \
        "the labels and their thresholds must survive save and load"
    assert np.allclose(back.predict_scores(texts), scores, atol=1e-5), "a loaded model must score as the saved one"


def _language_model_contract(model, data: dict, train: dict, folder: Path) -> None:
    import math

    _fitted(model, data, train, "loss", folder)
    scores = model.evaluate(data["test"])
    assert {"loss", "perplexity"} <= set(scores), f"evaluate must report loss and perplexity, got {sorted(scores)}"
    assert math.isfinite(scores["perplexity"]) and scores["perplexity"] >= 1, "perplexity must be finite and at least 1"
    text = model.generate("the film", max_tokens=6, seed=3)
    assert isinstance(text, str) and text.startswith("the film"), "generate must return the prompt and its continuation"
    assert model.generate("the film", max_tokens=6, seed=3) == text, "the same seed must generate the same text"
    back = _reloaded(model, folder)
    assert back.generate("the film", max_tokens=6, seed=3) == text, "a loaded model must generate as the saved one"
    assert math.isclose(back.evaluate(data["test"])["loss"], scores["loss"], rel_tol=1e-4), \
        "a loaded model must score as the saved one"


def _gan_contract(model, data: dict, train: dict, folder: Path) -> None:
    import numpy as np

    _fitted(model, data, train, "loss", folder)
    first = model.sample(4, seed=1)
    assert len(first) == 4, "sample(n) must give n samples"
    again = model.sample(4, seed=1)
    same = list(first) == list(again) if model.modality == "text" else np.array_equal(first, again)
    assert same, "the same seed must give the same samples"
    back = _reloaded(model, folder)
    again = back.sample(4, seed=1)
    same = list(first) == list(again) if model.modality == "text" else np.allclose(first, again, atol=1e-5)
    assert same, "a loaded GAN must sample as the saved one"


def _tagger_contract(model, data: dict, train: dict, folder: Path) -> None:
    _fitted(model, data, train, "loss", folder)
    sentences = [ex["tokens"] for ex in data["test"]]
    tags = model.tag(sentences)
    assert [len(t) for t in tags] == [len(s) for s in sentences], "tag must give one tag per token"
    assert all(t in model.labels for row in tags for t in row), "tag must name tags among the labels"
    texts = [" ".join(s) for s in sentences]
    found = model.entities(texts)
    assert len(found) == len(texts), "entities must give one list per text"
    for text, entities in zip(texts, found):
        for e in entities:
            assert text[e["start"]:e["end"]] == e["text"], "an entity's offsets must cut its text out of the input"
    scores = model.evaluate(data["test"])
    assert {"loss", "f1", "precision", "recall", "accuracy"} <= set(scores), \
        f"evaluate must report loss, accuracy and entity precision, recall and F1, got {sorted(scores)}"
    back = _reloaded(model, folder)
    assert back.labels == model.labels, "the tags must survive save and load"
    assert back.tag(sentences) == tags, "a loaded tagger must tag as the saved one"
    assert _same_entities(back.entities(texts), found), "a loaded tagger must find the entities the saved one finds"


def _same_entities(a: list[list[dict]], b: list[list[dict]]) -> bool:
    import math

    strip = lambda found: [[(e["label"], e["start"], e["end"]) for e in row] for row in found]  # noqa: E731
    scores = [(x["score"], y["score"]) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return strip(a) == strip(b) and all(math.isclose(x, y, abs_tol=1e-5) for x, y in scores)


def _regressor_contract(model, data: dict, train: dict, folder: Path) -> None:
    import numpy as np

    from nlpzoo.kinds import model_input

    _fitted(model, data, train, "loss", folder)
    texts = [model_input(ex) for ex in data["test"]]  # sentence pairs as (text, text_pair)
    values = np.asarray(model.predict_values(texts))
    assert values.shape == (len(texts),) and np.isfinite(values).all(), "predict_values must give one number per text"
    assert [p["value"] for p in model.predict(texts)] == [float(v) for v in values], "predict must give those numbers"
    scores = model.evaluate(data["test"])
    assert {"loss", "rmse", "pearson", "spearman"} <= set(scores), \
        f"evaluate must report loss, rmse, pearson and spearman, got {sorted(scores)}"
    back = _reloaded(model, folder)
    assert np.allclose(back.predict_values(texts), values, atol=1e-4), "a loaded regressor must predict as the saved one"


MODEL_CONTRACTS = {"classifier": _classifier_contract, "multilabel_classifier": _multilabel_contract,
                   "regressor": _regressor_contract, "tagger": _tagger_contract,
                   "language_model": _language_model_contract, "gan": _gan_contract}
# what each kind's runs keep the best by
METRICS = {"classifier": "accuracy", "multilabel_classifier": "micro_f1", "regressor": "loss", "tagger": "loss", "language_model": "loss", "gan": "loss"}


def _augmenter_contract(aug) -> None:
    texts = ["The quick brown fox jumps over the lazy dog.", "", "word", "Café déjà vu, naïve résumé!"]
    out = aug.augment(texts, seed=1)
    assert isinstance(out, list) and len(out) == len(texts), "augment must return one string per input"
    assert all(isinstance(t, str) for t in out), "augment must return strings"
    assert aug.augment(texts, seed=1) == out, "the same seed must give the same output"
    assert aug.augment(list(reversed(texts)), seed=1) == list(reversed(out)), "output must not depend on order"
    assert aug.augment(texts[:1], seed=1) == out[:1], "output must not depend on batch size"
    from nlpzoo.kinds import rng_for

    for text, got, (new, ops) in zip(texts, out, aug.explain(texts, seed=1)):
        assert isinstance(ops, list), "explain must list the operations applied"
        assert new == got, "explain must give the same text as augment"
        assert aug.augment_one(text, rng_for(1, text))[0] == got, "augment(texts, seed) must equal augment_one(text, rng_for(seed, text))"


def _scheduler_contract(sched) -> None:
    from nlpzoo_training import learning_rate_curve

    lrs = learning_rate_curve(sched, 50, base_lr=0.1)
    assert len(lrs) == 50, "curve must give one rate per step"
    assert all(math.isfinite(x) and 0 <= x <= 10 for x in lrs), f"rates must be finite and non-negative: {lrs[:5]}..."


def _optimizer_contract(opt) -> None:
    import torch

    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    o = opt.create([w])
    start = float((w.detach() ** 2).sum())
    for _ in range(20):
        o.zero_grad()
        (w ** 2).sum().backward()
        o.step()
    assert float((w.detach() ** 2).sum()) < start, "20 steps on a quadratic must lower it"


def _embedder_contract(emb) -> None:
    vecs = emb.embed_batch(["a first text", "another one"])
    assert getattr(vecs, "shape", (0,))[0] == 2, "embed_batch must give one row per text"


def _dataset_contract(ds) -> None:
    splits = ds.load()
    assert "train" in splits and len(splits["train"]) > 0, "a dataset needs a non-empty train split"


CONTRACTS = {
    "augmenter": _augmenter_contract,
    "scheduler": _scheduler_contract,
    "optimizer": _optimizer_contract,
    "embedder": _embedder_contract,
    "dataset": _dataset_contract,
}


@pytest.fixture
def nlpzoo_isolated():
    """A fresh plugin manager holding only the training engine (which reads ``train:`` and adds ``train``);
    add plugins with ``.add_plugin(obj, name)``. Restored afterwards."""
    import nlpzoo_training.plugin
    from nlpzoo import plugins

    manager = plugins.PluginManager()
    manager.add_plugin(nlpzoo_training.plugin, "training", "nlpzoo")
    previous = plugins.reset(manager)
    try:
        yield manager
    finally:
        plugins.reset(previous)
