"""The Transformer language model: causal attention, cached continuation, scoring windows, training,
generation, saving, and the token-network protocol text GANs use."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nlpzoo

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from nlpzoo_testing import check_component, check_plugin  # noqa: E402
from nlpzoo_training import Run  # noqa: E402
from nlpzoo_transformer.nets import TransformerNet, score_windows, stream_nll  # noqa: E402

TINY = {"d_model": 32, "num_layers": 2, "num_heads": 4, "block_size": 24, "dropout": 0.1, "vocab_size": 1500}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def hamlet():
    data = nlpzoo.build("hamlet").load()
    return {"train": data["train"][:30], "validation": data["validation"][:4], "test": data["test"][:4]}


def tiny_net(positions="learned", **kw):
    torch.manual_seed(0)
    return TransformerNet(60, 32, 2, 4, 16, dropout=0.0, positions=positions, **kw).eval()


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_a_later_token_never_changes_an_earlier_output(positions):
    net = tiny_net(positions)
    ids = torch.randint(3, 60, (3, 14), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 9:] = torch.randint(3, 60, (3, 5), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before, _ = net(ids)
        after, _ = net(changed)
    torch.testing.assert_close(after[:, :9], before[:, :9], rtol=0, atol=1e-6)
    assert (after[:, 9:] - before[:, 9:]).abs().max() > 1e-3  # while the changed positions do change


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_a_cached_state_continues_the_sequence_exactly(positions):
    net = tiny_net(positions, embedding_dim=20)  # narrower embedding: maps in and out of the model width
    ids = torch.randint(3, 60, (2, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        whole, _ = net(ids)
        first, state = net(ids[:, :5])
        middle, state = net(ids[:, 5:9], state)  # several new tokens after a cache: a shifted causal mask
        last, state = net(ids[:, 9:10], state)
        torch.testing.assert_close(torch.cat([first, middle, last], 1), whole[:, :10], rtol=0, atol=1e-5)
        rows = torch.tensor([1, 1, 0])  # roll-outs repeat rows of a state
        again, _ = net(ids[rows, 10:11], net.reorder_state(state, rows))
    torch.testing.assert_close(again[:, 0], whole[rows, 10], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="reads at most 16"):
        net(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("n,block,stride", [(2, 8, 4), (9, 8, 4), (100, 16, 8), (101, 16, 5), (40, 16, 16)])
def test_sliding_windows_score_every_next_token_once_with_enough_context(n, block, stride):
    windows = score_windows(n, block, stride)
    targets = [t for start, end, first in windows for t in range(start + 1 + first, end + 1)]
    assert targets == list(range(1, n))
    for i, (start, end, first) in enumerate(windows):
        assert end - start <= block
        if i:
            assert first >= block - stride  # later windows count only tokens with that much context


def test_stream_scoring_matches_one_pass_when_the_stream_fits():
    net = tiny_net()
    stream = torch.randint(3, 60, (16,), generator=torch.Generator().manual_seed(4))
    nll, count = stream_nll(net, stream, 16, 8)
    with torch.no_grad():
        logits, _ = net(stream[None, :-1])
    expected = torch.nn.functional.cross_entropy(logits[0], stream[1:], reduction="sum")
    assert count == 15 and nll == pytest.approx(float(expected), rel=1e-5)


def test_plugin_and_component_conform():
    check_plugin("transformer")
    model = check_component("language_model", "transformer-lm", TINY)
    assert model.block_size == 24 and model.eval_stride == 12
    with pytest.raises(nlpzoo.ConfigError, match="divisible"):
        nlpzoo.build({"name": "transformer-lm", "d_model": 30, "num_heads": 4})
    with pytest.raises(nlpzoo.ConfigError, match="even head size"):
        nlpzoo.build({"name": "transformer-lm", "d_model": 12, "num_heads": 4, "positions": "rotary"})


@pytest.fixture(scope="module")
def trained(hamlet, module_folder):
    run_dir = module_folder("tlm")
    model = nlpzoo.build({"name": "transformer-lm", **TINY, "positions": "rotary"})
    run = Run.standalone(run_dir, seed=0, train={"epochs": 2, "batch_size": 8, "metric": "perplexity",
                                                 "progress": False, "plots": False})
    metrics = model.fit(hamlet, run)
    return model, metrics, run_dir


def test_training_lowers_perplexity_and_writes_the_run(trained, hamlet):
    model, metrics, run_dir = trained
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_perplexity"] for r in records if "val_perplexity" in r]
    assert len(val) == 2 and val[-1] < val[0] < model.tokenizer.vocab_size  # better than uniform, and improving
    assert metrics["val_perplexity"] == pytest.approx(min(val))
    test = model.evaluate(hamlet["test"])
    assert math.isfinite(test["perplexity"]) and test["tokens"] == len(model._stream(hamlet["test"])) - 1
    assert (run_dir / "tokenizer.json").is_file()


def test_generation_is_seeded_and_follows_the_options(trained):
    model, _, _ = trained
    a = model.generate("the king", max_tokens=12, seed=1)
    assert a == model.generate("the king", max_tokens=12, seed=1) and a.startswith("the king")
    assert a != model.generate("the king", max_tokens=12, seed=2)
    greedy = model.generate("the king", max_tokens=12, temperature=0)
    assert model.generate("the king", max_tokens=12, top_k=1, seed=5) == greedy
    assert model.generate("the king", max_tokens=12, top_p=1e-6, seed=6) == greedy  # the nucleus is the top token
    assert "[UNK]" not in model.generate("", max_tokens=40, temperature=3.0, seed=7)
    long = model.generate("to be or not to be", max_tokens=40, temperature=3.0, seed=8)  # past the 24-token context
    assert len(long.split()) > 24
    words = model.next_word_distribution("the king", k=5)
    assert len(words) == 5 and words == sorted(words, key=lambda w: -w[1]) and all(0 < p <= 1 for _, p in words)


def test_save_and_load_give_the_same_model(trained, hamlet, tmp_path):
    model, _, _ = trained
    model.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "architecture.json", "component.json", "model.safetensors", "tokenizer.json"]
    back = type(model).load(tmp_path / "model")
    assert back.positions == "rotary" and back.block_size == 24
    assert back.evaluate(hamlet["test"]) == model.evaluate(hamlet["test"])
    assert back.generate("the king", max_tokens=10, seed=3) == model.generate("the king", max_tokens=10, seed=3)


def test_the_token_network_is_the_model_itself(trained):
    model, _, _ = trained
    net = model.token_network()
    assert net is model.net and net.max_positions == 24
    with torch.no_grad():
        logits, state = net(torch.tensor([[model.tokenizer.eos_id]]))
    assert logits.shape == (1, 1, model.tokenizer.vocab_size) and len(state) == TINY["num_layers"]


def test_word2vec_initialises_the_embedding(hamlet, tmp_path):
    pytest.importorskip("gensim")
    model = nlpzoo.build({"name": "transformer-lm", **TINY, "embedder": {"name": "word2vec", "vector_size": 16,
                                                                        "min_count": 1, "epochs": 1}})
    run = Run.standalone(tmp_path, seed=0, train={"epochs": 1, "max_steps": 2, "batch_size": 8, "progress": False,
                                                  "plots": False})
    model.fit(hamlet, run)
    assert model.net.embedding.weight.shape[1] == 16 and model.net.embedding_in is not None  # 16 into the 32-wide model
    assert model.net.decoder.weight is model.net.embedding.weight  # still tied, through a map out of the model width
    report = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if "embedding_" in line]
    assert report and report[0]["embedding_vocab_coverage"] > 0.9


# ---------------------------------------------------------------- streamed corpora


def test_a_token_file_gives_the_same_batches_and_scores_as_the_ids_in_memory(tmp_path):
    from nlpzoo_training import TokenFile
    from nlpzoo_transformer.nets import LanguageModelTask

    texts = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(i % 9 + 1)) for i in range(120)]
    ids = [[3 + int(w[1:]) for w in t.split()] for t in texts]
    on_disk = TokenFile.write(texts, lambda chunk: [[3 + int(w[1:]) for w in t.split()] for t in chunk], 2,
                              folder=tmp_path)
    in_memory = torch.as_tensor([i for seq in ids for i in (*seq, 2)], dtype=torch.long)
    assert len(on_disk) == len(in_memory)
    run = Run.standalone(tmp_path / "run", seed=3, train={"batch_size": 5, "progress": False, "plots": False})
    net = tiny_net()
    tasks = [LanguageModelTask(net, {"train": s, "test": s}, run=run, block_size=16, eval_stride=6)
             for s in (in_memory, on_disk)]
    for epoch in (0, 1):
        a, b = (task.train_batches(epoch) for task in tasks)
        assert len(a) == len(b) == -(-((len(in_memory) - 16 - 1 - int(np.random.default_rng([3, epoch]).integers(0, 16))) // 16 + 1) // 5)
        for (xa, ya), (xb, yb) in zip(a, b):
            assert torch.equal(xa, xb) and torch.equal(ya, yb) and xa.shape[1] == 16
    assert stream_nll(net, on_disk, 16, 6) == stream_nll(net, in_memory, 16, 6)


@pytest.mark.slow
def test_the_transformer_trains_on_a_streamed_text_file(tmp_path, cli):
    from pathlib import Path

    hamlet = nlpzoo.build("hamlet", "dataset").load()
    corpus = tmp_path / "plays.txt"
    corpus.write_text("".join(ex["text"] + "\n" for split in hamlet.values() for ex in split))
    run = tmp_path / "run"
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "transformer-lm-wiki.yaml"
    done = cli("train", str(recipe), "--data", str(corpus), "--run-dir", str(run), "--set", "dataset.stream=true",
               "--set", "model.embedder=null", "--set", "model.d_model=16", "--set", "model.num_layers=1",
               "--set", "model.num_heads=2", "--set", "model.block_size=16", "--set", "model.vocab_size=800",
               "--set", "train.max_steps=3", "--set", "train.progress=false", "--set", "train.plots=false",
               "--set", "train.precision=fp32")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_tokens"] > 100 and metrics["test_perplexity"] > 1
    assert json.loads((run / "provenance.json").read_text())["dataset"]["stream"] is True
    assert json.loads((run / "run.json").read_text())["precision"] == "fp32"  # the run says how it computed
    refused = cli("validate", str(recipe), "--set", "model.block_size=1")  # a declared range
    assert refused.returncode != 0 and "expected 2 <= block_size <= 100000, got 1" in refused.stderr


@pytest.mark.slow
def test_two_processes_train_on_their_own_shards_of_a_streamed_file(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    hamlet = nlpzoo.build("hamlet", "dataset").load()
    corpus = tmp_path / "plays.txt"
    corpus.write_text("".join(ex["text"] + "\n" for split in hamlet.values() for ex in split))
    (tmp_path / "recipe.yaml").write_text(
        "seed: 0\ndataset: hamlet\n"
        "model: {name: transformer-lm, d_model: 16, num_layers: 1, num_heads: 2, block_size: 16, vocab_size: 800}\n"
        "train: {epochs: 1, max_steps: 3, batch_size: 4, log_every: 1, progress: false, plots: false}\n")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "nlpzoo.cli", "train", str(tmp_path / "recipe.yaml"), "--data", str(corpus),
                           "--set", "dataset.stream=true", "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train_loss" in r] == [1, 2, 3]  # both processes stepped together
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_perplexity"] > 1
