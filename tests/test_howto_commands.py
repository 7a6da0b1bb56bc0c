"""The shell commands of the how-to guides on runs run as written, on a tiny stand-in for the recipe
they name (the same components, a few hundred examples)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "how-to"
TINY_RT = textwrap.dedent("""\
    seed: 0
    dataset: {name: rotten-tomatoes, seed: 0, limit: 300}
    model:
      name: lstm-classifier
      embedding_dim: 16
      hidden_size: 16
      embedder: {name: word2vec, vector_size: 16, min_count: 2, epochs: 1}
    train: {epochs: 1, batch_size: 32, metric: accuracy}
    """)


def bash_blocks(path: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("guide, made", [
    ("compare-runs.md", ["rt-embeddings.html", "rt-seeds.html", "runs/rt-w2v/report.html", "runs/rt-random/report.html"]),
    ("read-a-run-report.md", ["runs/rt/report.html", "rt-report.html"]),
    ("tune-a-recipe.md", ["sweeps/rt/best.yaml", "sweeps/rt/sweep.html", "trials.html", "runs/rt-best/report.html"]),
])
def test_the_guides_commands_run_as_written(guide, made, tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "lstm-classifier-rt.yaml").write_text(TINY_RT)
    scripts = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    blocks = bash_blocks(DOCS / guide)
    assert blocks, f"{guide} has no bash block"
    for block in blocks:
        done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{guide}:\n{block}\n{done.stderr[-2000:]}"
    for path in made:
        assert (tmp_path / path).is_file(), f"{guide} should have made {path}"
