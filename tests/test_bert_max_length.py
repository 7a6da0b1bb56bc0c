"""A saved BERT classifier cuts texts where it was trained to, in transformers as in nlpzoo."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LENGTH = 16  # far below the 512 of the pretrained tokenizer, so a text of 40 words is cut differently


@pytest.fixture(scope="module")
def short_run(module_folder, cli):
    run_cli = cli
    run_dir = module_folder("bert-short") / "run"
    done = run_cli("train", str(ROOT / "recipes" / "bert-rotten-tomatoes.yaml"), "--run-dir", str(run_dir),
                   "--set", "dataset.limit=160", "--set", "train.max_steps=4", "--set", "train.batch_size=16",
                   "--set", f"model.max_length={MAX_LENGTH}", "--set", "train.progress=false", "--set", "augment=null")
    assert done.returncode == 0, done.stderr
    return run_dir


def long_texts() -> list[str]:
    """Reviews that change their mind after the 16th token: only a model that cuts there agrees with nlpzoo."""
    good = "a warm, funny, beautifully acted and wonderfully written film that I loved"
    bad = "a dull, lifeless, tedious and badly acted mess that goes nowhere at all"
    return [f"{a} . " * 2 + f"{b} . " * 3 for a, b in ((good, bad), (bad, good), (good, good), (bad, bad))]


@pytest.mark.slow
def test_the_saved_tokenizer_carries_the_trained_max_length(short_run):
    config = json.loads((short_run / "model" / "tokenizer_config.json").read_text())
    assert config["model_max_length"] == MAX_LENGTH


@pytest.mark.slow
def test_pipeline_with_truncation_gives_nlpzoo_predictions_on_texts_longer_than_max_length(short_run, cli):
    from transformers import AutoTokenizer, pipeline

    texts = long_texts()
    tokenizer = AutoTokenizer.from_pretrained(str(short_run / "model"))
    assert min(len(tokenizer(t)["input_ids"]) for t in texts) > 3 * MAX_LENGTH
    done = cli("predict", str(short_run), *texts)
    assert done.returncode == 0, done.stderr
    ours = []
    for line in done.stdout.strip().splitlines():
        label, probabilities, _ = line.split("\t")
        ours.append((label, {k: float(v) for k, v in (p.split("=") for p in probabilities.split(" "))}))
    theirs = pipeline("text-classification", model=str(short_run / "model"), truncation=True, top_k=None)(texts)
    for (label, probabilities), scores in zip(ours, theirs):
        assert max(scores, key=lambda d: d["score"])["label"] == label
        for d in scores:
            assert d["score"] == pytest.approx(probabilities[d["label"]], abs=2e-3)  # predict prints 3 decimals
