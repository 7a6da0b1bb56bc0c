"""The reliability suite: property-based fuzzing and fault injection, with a summary at the end.

Hypothesis runs derandomized (the same cases on every machine, no example database written) unless
``NLPZOO_FUZZ=explore``, which draws fresh cases, five times as many.
"""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, settings

import nlpzoo

from reliability_support import FAULTY_CLASSIFIER, TALLY, train

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
settings.register_profile("explore", parent=settings.get_profile("ci"), derandomize=False)
settings.load_profile("explore" if os.environ.get("NLPZOO_FUZZ") == "explore" else "ci")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if TALLY.cases == 0:
        return
    terminalreporter.section("nlpzoo reliability")
    for line in TALLY.lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """A folder with the fault-injection plugin and the tiny classifier recipe."""
    path = tmp_path_factory.mktemp("reliability")
    (path / "recipe.yaml").write_text(FAULTY_CLASSIFIER)
    return path


@pytest.fixture(scope="session")
def finished_run(workdir):
    """One uninterrupted tiny classifier run: the reference for resumed runs and the subject of tampering."""
    if "lstm-classifier" not in nlpzoo.components():
        pytest.skip("needs the lstm plugin")
    run_dir = workdir / "finished"
    done = train(workdir, workdir / "recipe.yaml", run_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    return run_dir
