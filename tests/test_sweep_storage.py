"""A sweep outlives its processes: workers on one machine or on several (a real PostgreSQL server) share
one study, a killed worker's trial is failed and run again, and the same command continues a sweep."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback

pytestmark = [pytest.mark.slow,  # each test trains several tiny runs in fresh processes
              pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")]

TINY = """\
seed: 0
dataset: {name: rotten-tomatoes, limit: 300}
model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
optimizer: {name: adamw, lr: 3.0e-3}
train: {epochs: 2, batch_size: 32, metric: accuracy, log_every: 5, plots: false}
"""
SPACE = "optimizer.lr: {low: 1.0e-4, high: 1.0e-2, log: true}\ntrain.batch_size: [16, 32]\n"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nlpzoo.cli", "sweep", "tiny.yaml", "--space", "space.yaml", "--sampler", "random",
            "--heartbeat", "1", *args]


def start(folder: Path, log: str, *args: str) -> subprocess.Popen:
    out = open(folder / log, "w")
    return subprocess.Popen(sweep_command(*args), cwd=folder, env=ENV, stdout=out, stderr=subprocess.STDOUT)


def wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float = 300) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text())
        if found:
            return found
        assert proc.poll() is None, f"the sweep ended before {pattern!r}:\n{path.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in {timeout} s:\n{path.read_text()[-3000:]}")


def started_trials(*logs: Path) -> list[int]:
    return [int(n) for log in logs for n in re.findall(r"trial (\d+) started", log.read_text())]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "space.yaml").write_text(SPACE)
    return tmp_path


def check_every_finished_trial_is_a_run(study, *folders: Path) -> None:
    for t in study.trials:
        if t.state.name != "COMPLETE":
            continue
        runs = [f / t.user_attrs["run"] for f in folders if (f / t.user_attrs["run"] / "run.json").exists()]
        assert len(runs) == 1, f"trial {t.number} is recorded in {len(runs)} run folders"
        info = json.loads((runs[0] / "run.json").read_text())
        assert info["status"] == "finished" and info["metrics"]["val_accuracy"] == pytest.approx(t.value)


def test_a_killed_sweep_continues_with_the_same_command(project):
    first = start(project, "first.log", "--trials", "4", "--dir", "sw")
    wait_for(project / "first.log", r"trial 1 started", first)
    first.send_signal(signal.SIGKILL)  # at once: a tiny trial may finish within a second on an idle machine
    first.wait()
    again = subprocess.run(sweep_command("--trials", "4", "--dir", "sw"), cwd=project, env=ENV, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]

    study = optuna.load_study(study_name="sw", storage=f"sqlite:///{project / 'sw' / 'sweep.db'}")
    states = [t.state.name for t in study.trials]
    killed = max(started_trials(project / "first.log"))  # the trial the worker was inside when it was killed
    assert states.count("COMPLETE") == 4 and states[killed] == "FAIL", states
    assert "trial 0 started" not in again.stdout  # a finished trial is not run again
    retried = [t for t in study.trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed]
    assert len(retried) == 1 and retried[0].params == study.trials[killed].params  # the killed trial, run again once
    check_every_finished_trial_is_a_run(study, project / "sw")
    assert "sweep done: 4 complete, 1 fail" in again.stdout


def test_workers_on_one_machine_share_the_sqlite_study(project):
    done = subprocess.run(sweep_command("--trials", "4", "--workers", "2", "--dir", "sw"), cwd=project, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    study = optuna.load_study(study_name="sw", storage=f"sqlite:///{project / 'sw' / 'sweep.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert sorted(started_trials_from(done.stdout)) == [0, 1, 2, 3]  # each trial run exactly once
    check_every_finished_trial_is_a_run(study, project / "sw")


def started_trials_from(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"trial (\d+) started", text)]


# ---------------------------------------------------------------- PostgreSQL: the study shared by machines


def postgres_program(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        pytest.skip(f"no {name}: .ci/setup installs Debian's 'postgresql' package with apt-get when it can (root or "
                    "passwordless sudo); install it to run this test")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on a free local port, in a temporary folder; stopped after the test.

    PostgreSQL refuses to run as root, so as root the server runs as the 'postgres' user the package made."""
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="nlpzoo-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to run the server as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "sweep", "--auth=trust", "-E", "UTF8"], check=True,
                   capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://sweep@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_one_study_in_postgresql_and_one_survives_the_others_kill(project, postgres):
    trials = ("--trials", "6", "--storage", postgres)
    a = start(project, "a.log", *trials, "--dir", "machine-a/shared", "--seed", "0")
    b = start(project, "b.log", *trials, "--dir", "machine-b/shared", "--seed", "1")  # one study: the same --dir name
    killed = int(wait_for(project / "a.log", r"trial (\d+) started", a).group(1))
    time.sleep(1.0)
    a.send_signal(signal.SIGKILL)
    a.wait()
    assert b.wait(timeout=600) == 0, (project / "b.log").read_text()[-3000:]

    study = optuna.load_study(study_name="shared", storage=postgres)
    states = {t.number: t.state.name for t in study.trials}
    assert list(states.values()).count("COMPLETE") == 6 and states[killed] == "FAIL", states
    assert not [s for s in states.values() if s in ("RUNNING", "WAITING")]
    runs = started_trials(project / "a.log", project / "b.log")
    assert sorted(runs) == sorted(states) and len(runs) == len(set(runs))  # every trial started once, all recorded
    retried = [t for t in study.trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    check_every_finished_trial_is_a_run(study, project / "machine-a" / "shared", project / "machine-b" / "shared")
    assert "sweep done: 6 complete, 1 fail" in (project / "b.log").read_text()


def test_a_journal_file_holds_the_study_too(project):
    journal = project / "shared" / "study.log"
    journal.parent.mkdir()
    done = subprocess.run(sweep_command("--trials", "2", "--dir", "sw", "--storage", f"journal:{journal}"), cwd=project,
                          env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="sw", storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2 and not (project / "sw" / "sweep.db").exists()
    status = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "sweep", "--status", "sw"], cwd=project, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and status.stdout.strip().splitlines()[-1].startswith("2 of 2 trials finished")
