"""Runs you can see and compare: report.html, ``nlpzoo report``, ``nlpzoo runs`` and ``nlpzoo compare``,
checked on real trained runs and in a real browser (headless Chromium)."""
from __future__ import annotations

import base64
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from browser import Page, colours, dump_dom, screenshot

from nlpzoo_reports.report import NOT_PICTURES_OF_THE_RUN, fmt

TINY_LSTM = """\
seed: 0
dataset: {{name: rotten-tomatoes, limit: 600}}
model:
  name: lstm-classifier
  embedding_dim: 32
  hidden_size: 32
  embedder: {{name: word2vec, vector_size: 32, min_count: 2, epochs: 1}}
optimizer: {{name: adamw, lr: {lr}}}
train: {{epochs: 2, batch_size: 32, metric: accuracy, log_every: 5}}
"""
MATPLOTLIB_BLUE = (31, 119, 180)  # the first line of every matplotlib plot


@pytest.fixture(scope="module")
def runs(module_folder, cli):
    """Two real LSTM classifier runs, trained by the command line, that differ in their learning rate."""
    folder = module_folder("runs")
    made = []
    for name, lr in (("fast", "3.0e-3"), ("slow", "1.0e-3")):
        recipe = folder / f"{name}.yaml"
        recipe.write_text(TINY_LSTM.format(lr=lr))
        done = cli("train", str(recipe), "--run-dir", str(folder / name))
        assert done.returncode == 0, done.stderr[-2000:]
        made.append(folder / name)
    return made


def pictures(run: Path) -> list[Path]:
    return [p for p in run.rglob("*.png") if p.relative_to(run).parts[0] not in NOT_PICTURES_OF_THE_RUN]


def inlined(picture: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode("ascii")


@pytest.mark.slow
def test_every_run_ends_with_a_self_contained_report(runs):
    run = runs[0]
    page = (run / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((run / "metrics.json").read_text())
    for name, value in metrics.items():
        assert f"<th>{name}</th><td class='num'>{fmt(value)}</td>" in page
    drawn = pictures(run)
    assert {p.name for p in drawn} >= {"loss.png", "lr.png", "confusion_test.png", "confusion_validation.png"}
    for picture in drawn:
        assert inlined(picture) in page, f"{picture.name} is not inlined in the report"
    assert "lstm:lstm-classifier" in page and "rotten_tomatoes_corpus_full.csv.bz2" in page  # recipe, provenance
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page), "the page must need no network"
    assert "default-src 'none'" in page


@pytest.mark.slow
def test_the_report_command_makes_the_page_again(runs, cli, tmp_path):
    page = runs[0] / "report.html"
    before = page.read_text(encoding="utf-8")
    page.unlink()
    done = cli("report", str(runs[0]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {page}"

    def without_date(html: str) -> str:
        return re.sub(r"Written by nlpzoo on [^<]*", "", html)

    assert without_date(page.read_text(encoding="utf-8")) == without_date(before)
    elsewhere = tmp_path / "copy.html"
    assert cli("report", str(runs[0]), "-o", str(elsewhere)).returncode == 0 and elsewhere.exists()


def test_report_of_a_directory_that_is_not_a_run_is_one_line(cli, tmp_path):
    done = cli("report", str(tmp_path))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "is not a run directory (no run.json)" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_runs_lists_status_model_dataset_metric_time_and_device(runs, cli):
    folder = runs[0].parent
    done = cli("runs", str(folder))
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.strip().splitlines()
    assert header.split() == ["run", "status", "model", "dataset", "key", "metric", "wall", "time", "device"]
    for run, line in zip(runs, lines):
        info = json.loads((run / "run.json").read_text())
        accuracy = info["metrics"]["test_accuracy"]
        assert line.split()[:6] == [run.name, "finished", "lstm-classifier", "rotten-tomatoes", "test_accuracy", f"{accuracy:.4f}"]
        assert line.split()[-1] == info.get("device", "-")  # where a torch model trained; '-' when unrecorded
    rows = json.loads(cli("runs", str(folder), "--json").stdout)
    assert [r["run"] for r in rows] == ["fast", "slow"] and all(r["seconds"] > 0 for r in rows)


@pytest.mark.slow
def test_runs_shows_the_device_a_run_recorded(runs, cli, tmp_path):
    copy = tmp_path / "on-gpu"
    shutil.copytree(runs[0], copy, ignore=shutil.ignore_patterns("checkpoints", "model"))
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "device": "cuda:0"}))
    line = cli("runs", str(tmp_path)).stdout.strip().splitlines()[1]
    assert line.startswith("on-gpu ") and line.split()[-1] == "cuda:0"


@pytest.mark.slow
def test_a_run_still_training_gets_a_page_and_a_row_too(runs, cli, tmp_path):
    copy = tmp_path / "training"
    shutil.copytree(runs[0], copy, ignore=shutil.ignore_patterns("checkpoints", "model", "report.html", "metrics.json"))
    info = json.loads((copy / "run.json").read_text())
    for key in ("finished", "seconds", "metrics"):
        info.pop(key)
    (copy / "run.json").write_text(json.dumps({**info, "status": "running"}))
    from nlpzoo_training.lock import RunLock

    with RunLock(copy):  # the training process holds its folder's lock while it runs
        done = cli("report", str(copy))
        assert done.returncode == 0, done.stderr
        page = (copy / "report.html").read_text(encoding="utf-8")
        assert "No metrics yet (the run has not finished)." in page and "<h2>Evaluations during training</h2>" in page
        line = cli("runs", str(tmp_path)).stdout.strip().splitlines()[1].split()
        assert line[:2] == ["training", "running"] and line[4] == "-"  # no key metric yet; the time runs from its start
    line = cli("runs", str(tmp_path)).stdout.strip().splitlines()[1].split()
    assert line[:2] == ["training", "interrupted"]  # nobody holds the lock: the process that wrote "running" is gone


def test_runs_in_an_empty_or_missing_folder(cli, tmp_path):
    assert cli("runs", str(tmp_path)).stdout.strip() == f"no runs in {tmp_path}"
    done = cli("runs", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and "no such directory" in done.stderr


@pytest.mark.slow
def test_compare_puts_metrics_side_by_side_and_overlays_curves(runs, cli, tmp_path):
    out = tmp_path / "page.html"
    done = cli("compare", *map(str, runs), "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs]
    for name in metrics[0]:
        row = re.search(rf"<tr><th>{re.escape(name)}</th>(.*?)</tr>", page).group(1)
        cells = re.findall(r"<td class='num( best)?'>([^<]*)</td>", row)
        assert [value for _, value in cells] == [fmt(m[name]) for m in metrics]
    accuracy = [m["test_accuracy"] for m in metrics]
    if accuracy[0] != accuracy[1]:
        best = accuracy.index(max(accuracy))
        assert re.search(rf"<tr><th>test_accuracy</th>(<td[^>]*>[^<]*</td>){{{best}}}<td class='num best'>", page)
    assert re.search(r"<tr><th>optimizer\.lr</th><td class='num'>0\.003</td><td class='num'>0\.001</td></tr>", page)
    logged = {k for r in runs for rec in (json.loads(l) for l in (r / "metrics.jsonl").read_text().splitlines())
              for k in rec if k not in ("step", "epoch", "best")}
    assert {"train_loss", "val_loss", "val_accuracy", "lr"} <= logged
    for key in logged:
        assert f"alt='{key} by optimizer step'" in page
    assert page.count("<img src='data:image/png;base64,") == len(logged)


@pytest.mark.slow
def test_compare_needs_two_runs(runs, cli, tmp_path):
    done = cli("compare", str(runs[0]), "-o", str(tmp_path / "x.html"))
    assert done.returncode == 1 and "at least two runs" in done.stderr
    assert not (tmp_path / "x.html").exists()


# ---------------------------------------------------------------- in a browser


@pytest.mark.slow
def test_chromium_shows_the_report_with_its_metrics_and_pictures(runs, tmp_path):
    run = runs[0]
    dom = Page(dump_dom(run / "report.html", tmp_path / "profile"))
    metrics = json.loads((run / "metrics.json").read_text())
    for value in metrics.values():
        assert fmt(value) in dom.words
    assert len(dom.images) == len(pictures(run)) + 1  # and the validation-accuracy curve drawn for the page
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)

    shot = screenshot(run / "report.html", tmp_path / "report.png", tmp_path / "profile")
    counts = colours(shot)
    assert len(counts) > 50, "the screenshot is (nearly) one colour"
    assert sum(n for c, n in counts.items() if c != (255, 255, 255)) > 0.05 * sum(counts.values())
    assert counts.get(MATPLOTLIB_BLUE, 0) > 100, "the plots' lines do not show: were the images blocked?"


@pytest.mark.slow
def test_chromium_shows_the_comparison(runs, cli, tmp_path):
    out = tmp_path / "compare.html"
    assert cli("compare", *map(str, runs), "-o", str(out)).returncode == 0
    dom = Page(dump_dom(out, tmp_path / "profile"))
    for run in runs:
        assert run.name in dom.words
        for value in json.loads((run / "metrics.json").read_text()).values():
            assert fmt(value) in dom.words
    assert len(dom.images) >= 4 and all(src.startswith("data:image/png;base64,") for src in dom.images)
    shot = screenshot(out, tmp_path / "compare.png", tmp_path / "profile")
    counts = colours(shot)
    assert len(counts) > 50 and counts.get(MATPLOTLIB_BLUE, 0) > 100
    orange = (255, 127, 14)  # the second run's lines
    assert counts.get(orange, 0) > 100, "the second run's curves do not show"


# ---------------------------------------------------------------- what generative runs add


@pytest.mark.slow
def test_a_language_model_run_reports_what_it_generates(cli, tmp_path):
    recipe = tmp_path / "lm.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 0
        dataset: hamlet
        model: {name: lstm-lm, vocab_size: 500, embedding_dim: 32, hidden_size: 32, num_layers: 1}
        train: {epochs: 1, batch_size: 16, max_steps: 20, metric: perplexity}
        """))
    done = cli("train", str(recipe), "--run-dir", str(tmp_path / "lm"))
    assert done.returncode == 0, done.stderr[-2000:]
    generated = json.loads((tmp_path / "lm" / "samples" / "generated.json").read_text())
    assert len(generated["samples"]) == 3
    page = (tmp_path / "lm" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Generated text</h2>" in page
    from html import escape

    for sample in generated["samples"]:
        assert sample["text"].startswith(sample["prompt"]) and len(sample["text"]) > len(sample["prompt"])
        assert f"<li><b>{escape(sample['prompt'])}</b>{escape(sample['text'][len(sample['prompt']):])}</li>" in page
    assert not (tmp_path / "lm" / "model" / "README.md").exists()  # model cards are for classifiers


@pytest.mark.slow
def test_a_gan_run_reports_its_sample_grids(cli, tmp_path):
    recipe = tmp_path / "gan.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 0
        dataset: {name: mnist-5k, limit: 200}
        model: {name: dcgan, g_width: 8, d_width: 8, quality: false}
        train: {epochs: 2, batch_size: 32, clip_grad_norm: null}
        """))
    done = cli("train", str(recipe), "--run-dir", str(tmp_path / "gan"))
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "gan"
    grids = sorted((run / "samples").glob("*.png"))
    assert grids, "the DCGAN drew no sample grids"
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<h2>Samples</h2>" in page
    samples_section = page.split("<h2>Samples</h2>", 1)[1]
    for grid in grids:
        assert inlined(grid) in samples_section
    gif = run / "samples" / "progress.gif"
    if gif.exists():
        assert "data:image/gif;base64," + base64.b64encode(gif.read_bytes()).decode("ascii") in page


def test_an_image_gan_that_drew_no_grids_gets_one_through_its_own_save_samples(tmp_path):
    import nlpzoo
    from nlpzoo_reports.report import record_generations

    class Quiet(nlpzoo.GAN):
        """A GAN that wrote no samples while training."""

        written = []

        def fit(self, data, run):
            return {}

        def evaluate(self, examples):
            return {}

        def sample(self, n, seed=0):
            return [[[[0.5]]]] * n

        def save_samples(self, samples, path, nrow=None):
            Path(path).write_bytes(b"\x89PNG grid")
            self.written.append((len(samples), Path(path)))
            return f"wrote {len(samples)} images to {path}"

    record_generations(tmp_path, Quiet(), {})
    assert Quiet.written == [(64, tmp_path / "samples" / "samples.png")]
    assert (tmp_path / "samples" / "samples.png").read_bytes().startswith(b"\x89PNG")


TRACKER = '''\
import json

import nlpzoo


@nlpzoo.hookimpl
def run_finished(run_dir, metrics):
    (run_dir / "tracker.json").write_text(json.dumps({"status": json.loads((run_dir / "run.json").read_text())["status"],
                                                      "metrics": metrics}))


class Broken:
    @nlpzoo.hookimpl
    def run_finished(self, run_dir):
        raise RuntimeError("the tracker's server is down")


broken = Broken()
'''


@pytest.mark.slow
def test_a_plugins_run_finished_hook_sees_the_saved_run_and_one_that_fails_is_a_warning(cli, tmp_path):
    plugin = tmp_path / "nlpzoo-tracker"
    (plugin / "nlpzoo_tracker").mkdir(parents=True)
    (plugin / "nlpzoo_tracker" / "__init__.py").write_text(TRACKER)
    (plugin / "pyproject.toml").write_text('[project]\nname = "nlpzoo-tracker"\nversion = "0.1"\n'
                                           '[project.entry-points.nlpzoo]\ntracker = "nlpzoo_tracker"\n'
                                           'broken = "nlpzoo_tracker:broken"\n')
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_LSTM.format(lr="3.0e-3").replace("epochs: 2,", "epochs: 1,"))
    done = cli("--plugins-dir", str(plugin), "train", str(recipe), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    tracked = json.loads((tmp_path / "run" / "tracker.json").read_text())
    assert tracked == {"status": "finished", "metrics": json.loads((tmp_path / "run" / "metrics.json").read_text())}
    assert "nlpzoo: warning: plugin broken: run_finished failed" in done.stderr
    assert "the tracker's server is down" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "run" / "report.html").exists()  # nlpzoo's own reports plugin ran too
