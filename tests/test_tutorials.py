"""Each tutorial runs as written, from the first block to the last, as a reader would.

A tutorial marked ``<!-- tested in order: tests/test_tutorials.py -->`` is run here: its ``bash``
and ``python`` blocks one after the other in one folder with ``recipes/`` in it (the repository root,
for the reader), and a block with ``title="FILE"`` (a file the reader saves) is written to FILE first.
Every training is shrunk by ``--set`` options appended to its ``nlpzoo train`` command (the same
recipe and components, a few examples and steps), so the commands are the tutorial's own, not copies.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "docs" / "tutorials"
MARKER = "<!-- tested in order: tests/test_tutorials.py -->"

FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", flags=re.S | re.M)


@dataclass
class Case:
    shrink: dict[str, list[str]]  # recipe file name -> the --set options appended to `nlpzoo train` on it
    made: list[str]  # files the tutorial's blocks must have written
    printed: list[str] = field(default_factory=list)  # text some block prints (as the tutorial shows it)
    seconds: float = 300  # all blocks together, on a shared 2-core machine


CASES = {
    "bert-on-your-own-csv.md": Case(
        shrink={"bert-rotten-tomatoes.yaml": ["dataset.limit=120", "model.max_length=32", "train.batch_size=8",
                                              "train.max_steps=2", "train.log_every=1"]},
        made=["reviews.csv", "runs/stars/report.html", "runs/stars/model/config.json", "runs/stars/model/README.md",
              "labelled.csv"],
        printed=["12752 rows", "run: runs/stars", "test_accuracy", "{'label': "]),
    "find-named-entities.md": Case(
        shrink={"bert-conll2003.yaml": ["dataset.limit=120", "model.max_length=32", "train.batch_size=8",
                                        "train.max_steps=2", "train.log_every=1"]},
        made=["news.conll", "runs/news/report.html", "runs/news/model/config.json", "runs/news/model/README.md"],
        printed=["3000 sentences", "EU\tB-ORG", "run: runs/news", "test_f1:", "test_strict_f1:"]),
    "predict-a-score.md": Case(
        shrink={"bert-vader-movies.yaml": ["dataset.limit=120", "model.max_length=32", "train.batch_size=8",
                                           "train.max_steps=2", "train.log_every=1"]},
        made=["ratings.csv", "runs/ratings/report.html", "runs/ratings/model/config.json",
              "runs/ratings/predicted_vs_true_test.png"],
        printed=["4000 rows, ratings from", "run: runs/ratings", "test_pearson:", "test_spearman:", "test_rmse:"]),
    "word2vec-lstm-generate.md": Case(
        shrink={"word2vec-wiki.yaml": ["dataset.limit=20", "model.epochs=1"],
                "lstm-lm-wiki.yaml": ["dataset.limit=12", "model.hidden_size=32", "train.max_steps=2",
                                      "train.batch_size=8", "train.log_every=1"]},
        made=["runs/w2v/model/vectors.bin", "runs/lm/report.html", "runs/lm/metrics.json"],
        printed=["test_wordsim353_spearman", "test_perplexity", "the history of"]),
    "train-a-dcgan.md": Case(
        shrink={"dcgan-mnist.yaml": ["dataset.limit=200", "model.g_width=8", "model.d_width=8", "model.judge_epochs=1",
                                     "model.eval_samples=64", "train.epochs=2", "train.log_every=1"]},
        made=["runs/gan/samples/epoch-000.png", "runs/gan/samples/final.png", "runs/gan/samples/progress.gif",
              "runs/gan/gan_curves.png", "runs/gan/report.html", "digits.png", "walk.png"],
        printed=["test_frechet_distance", "wrote 64 images to digits.png"]),
    "augment-and-measure.md": Case(
        shrink={"small-rt.yaml": ["dataset.train_limit=40", "model.embedding_dim=8", "model.hidden_size=8",
                                  "train.max_steps=4", "train.eval_every=2", "train.augment_copies=2"]},
        made=["sentences.txt", "runs/plain-0/report.html", "runs/eda-0/report.html", "runs/eda-2/metrics.json",
              "eda-vs-plain.html", "seeds.html"],
        printed=["random-deletion:charm,random-deletion:this,random-deletion:is", "plain-2", "eda-2"]),
}


def blocks(text: str) -> list[tuple[str, str, str | None]]:
    """(language, code, file name or None) of each fenced block, in order."""
    out = []
    for lang, info, code in FENCE.findall(text):
        title = re.search(r'title="([^"]+)"', info)
        out.append((lang, code, title.group(1) if title else None))
    return out


def marked() -> list[str]:
    return sorted(p.name for p in TUTORIALS.glob("*.md") if MARKER in p.read_text(encoding="utf-8"))


def test_every_marked_tutorial_is_run_here_and_nothing_else():
    assert marked() == sorted(CASES), "the tutorials marked as tested in order and the cases here differ"


def test_blocks_are_read_in_order_with_their_file_names():
    text = textwrap.dedent('''\
        ```yaml title="a.yaml"
        x: 1
        ```
        ```bash
        nlpzoo train a.yaml \\
            --set x=2
        ```
        ```text
        out
        ```
        ''')
    assert blocks(text) == [("yaml", "x: 1\n", "a.yaml"), ("bash", "nlpzoo train a.yaml \\\n    --set x=2\n", None),
                            ("text", "out\n", None)]


WRAPPER = '''\
import json, os, sys
args = sys.argv[1:]
if args[:1] == ["train"]:
    shrink = json.loads(os.environ["NLPZOO_TUTORIAL_SHRINK"])
    recipe = next((a for a in args[1:] if a.endswith((".yaml", ".yml"))), "")
    for option in shrink.get(os.path.basename(recipe), []):
        args += ["--set", option]
os.execv(os.environ["NLPZOO_TUTORIAL_REAL"], [os.environ["NLPZOO_TUTORIAL_REAL"], *args])
'''


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_tutorial_runs_as_written(name, tmp_path):
    case = CASES[name]
    text = (TUTORIALS / name).read_text(encoding="utf-8")
    work, bin_dir = tmp_path / "work", tmp_path / "bin"
    work.mkdir()
    bin_dir.mkdir()
    (work / "recipes").symlink_to(ROOT / "recipes")
    wrapper = bin_dir / "nlpzoo"
    wrapper.write_text(f"#!{sys.executable}\n{WRAPPER}")
    wrapper.chmod(0o755)
    scripts = Path(sys.executable).parent
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), str(scripts), os.environ["PATH"]]),
           "OMP_NUM_THREADS": "1", "NLPZOO_TUTORIAL_SHRINK": json.dumps(case.shrink),
           "NLPZOO_TUTORIAL_REAL": str(scripts / "nlpzoo"), "PYTHONWARNINGS": "ignore"}
    start, printed = time.monotonic(), []
    for lang, code, filename in blocks(text):
        if filename:
            (work / filename).write_text(code, encoding="utf-8")
            continue
        if lang == "bash":
            command = ["bash", "-e", "-o", "pipefail", "-c", code]
        elif lang == "python":
            command = [sys.executable, "-c", code]
        else:
            continue
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{name}: this block failed:\n{code}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        printed.append(done.stdout)
    seconds = time.monotonic() - start
    missing = [path for path in case.made if not (work / path).is_file()]
    assert not missing, f"{name} should have made {missing}"
    output = "\n".join(printed)
    for expected in case.printed:
        assert expected in output, f"{name}: no block printed {expected!r}"
    assert seconds < case.seconds, f"{name} took {seconds:.0f} s shrunk"
