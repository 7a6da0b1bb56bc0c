"""Fault injection: runs killed anywhere resume to the same result; one writer per run folder; full disks.

Each training here is a real ``nlpzoo train`` subprocess of a tiny classifier (2 epochs of 10 steps,
checkpoints every 4 steps), killed with SIGKILL by the fault plugin in reliability_support.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpzoo
from reliability_support import TALLY, examples, no_traceback, one_line_error, train

#: where the fault plugin kills: mid-epoch, at an epoch's end, and every phase after the last checkpoint
PHASES = ["step:3", "step:10", "end", "before-model", "after-model", "after-metrics"]


def final(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def log_records(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "examples_per_s"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(run_dir: Path, reference: Path) -> None:
    """Same final metrics, same metrics log, a finished run.json and a model that loads and agrees."""
    from nlpzoo.runs import open_run

    assert final(run_dir) == final(reference)
    assert log_records(run_dir) == log_records(reference)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    texts = ["a gorgeous, witty film", "dull and far too long", "the plot"]
    assert open_run(run_dir).model.predict(texts) == open_run(reference).model.predict(texts)
    assert not (run_dir / ".lock").exists()  # released at the end
    TALLY.resumed_identical += 1


def kill_and_resume(workdir: Path, run_dir: Path, fault: str) -> dict:
    """Train until the fault kills the process, then --resume; what happened, for the tests to check."""
    killed = train(workdir, workdir / "recipe.yaml", run_dir, fault=fault)
    outcome = {"killed": killed, "stale_lock": (run_dir / ".lock").exists()}
    if killed.returncode == 0:  # a timed fault that came after the run had finished
        return outcome
    started = (run_dir / "recipe.yaml").exists()
    outcome["resumed"] = train(workdir, workdir / "recipe.yaml", run_dir, *(["--resume"] if started else []))
    return outcome


@pytest.fixture(scope="module")
def killed_runs(workdir, finished_run):
    """Every phase killed and resumed, two at a time (each is a pair of subprocesses; the CI has two cores).

    Also one run killed at a moment drawn by hypothesis (derandomized: the same moment on every run).
    """
    from concurrent.futures import ThreadPoolExecutor

    moments = []

    @settings(max_examples=examples(1))
    @given(st.floats(1.0, 10.0))
    def draw(seconds):
        moments.append(f"after:{seconds:.3f}")

    draw()
    faults = PHASES + moments
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = dict(zip(faults, pool.map(lambda f: kill_and_resume(workdir, workdir / f"killed-{f.replace(':', '-')}", f), faults)))
    return {f: {**o, "run_dir": workdir / f"killed-{f.replace(':', '-')}"} for f, o in outcomes.items()}


def check_resumed(outcome: dict, reference: Path, fault: str) -> None:
    killed = no_traceback(outcome["killed"])
    if killed.returncode == 0:
        assert_same_run(outcome["run_dir"], reference)
        return
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    TALLY.faults += 1
    resumed = no_traceback(outcome["resumed"])
    assert resumed.returncode == 0, f"{fault}: {resumed.stderr[-3000:]}"
    assert_same_run(outcome["run_dir"], reference)


@pytest.mark.parametrize("fault", PHASES)
@pytest.mark.slow
def test_a_run_killed_at_any_phase_resumes_to_the_same_result(killed_runs, finished_run, fault):
    check_resumed(killed_runs[fault], finished_run, fault)


@pytest.mark.slow
def test_a_run_killed_at_a_random_moment_resumes_to_the_same_result(killed_runs, finished_run):
    [fault] = [f for f in killed_runs if f.startswith("after:")]
    check_resumed(killed_runs[fault], finished_run, fault)


@pytest.mark.slow
def test_a_lock_left_by_a_killed_run_is_taken_over(killed_runs, finished_run):
    outcome = killed_runs["step:10"]
    assert outcome["killed"].returncode == -signal.SIGKILL
    assert outcome["stale_lock"], "the killed process left no lock file: nothing stale was taken over"
    assert outcome["resumed"].returncode == 0, outcome["resumed"].stderr[-2000:]
    TALLY.cases += 1


def wait_for_lock(run_dir: Path, process: subprocess.Popen, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(json.loads((run_dir / ".lock").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            pass
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.05)
    raise AssertionError("the first training never took the lock")


@pytest.mark.slow
def test_a_second_training_or_resume_beside_a_running_one_is_refused_with_its_pid(workdir, finished_run):
    run_dir = workdir / "shared"
    first = train(workdir, workdir / "recipe.yaml", run_dir, popen=True)
    try:
        pid = wait_for_lock(run_dir, first)
        assert pid == first.pid
        for extra in ([], ["--resume"]):
            second = train(workdir, workdir / "recipe.yaml", run_dir, *extra)
            line = one_line_error(second)
            assert f"is in use by another nlpzoo process (pid {first.pid}" in line, line
            TALLY.faults += 1
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert_same_run(run_dir, finished_run)  # the first was not disturbed


@pytest.mark.slow
def test_identical_commands_in_the_same_second_get_their_own_run_folders(workdir):

    if "lstm-classifier" not in nlpzoo.components():
        pytest.skip("needs the lstm plugin")
    cwd = workdir / "defaults"
    cwd.mkdir()
    quick = ["--set", "train.max_steps=1", "--set", "train.epochs=1"]
    both = [train(workdir, workdir / "recipe.yaml", None, *quick, cwd=cwd, popen=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in both]
    for p, (out, err) in zip(both, outputs):
        assert p.returncode == 0, err[-2000:]
        TALLY.cases += 1
    folders = [line.split("run: ", 1)[1] for out, _ in outputs for line in out.splitlines() if line.startswith("run: ")]
    assert len(folders) == 2 and folders[0] != folders[1], folders
    assert all((cwd / f / "model").is_dir() for f in folders)


def test_claimed_run_folders_are_unique_under_contention(tmp_path):
    from nlpzoo_training.lock import claim_run_dir

    claimed, barrier = [], threading.Barrier(32)

    def claim():
        barrier.wait()
        claimed.append(claim_run_dir(tmp_path / "runs", "recipe"))

    threads = [threading.Thread(target=claim) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    TALLY.cases += len(claimed)
    assert len(claimed) == 32 and len(set(claimed)) == 32


# ---------------------------------------------------------------- full and read-only disks


def _tmpfs_prefix() -> list[str] | None:
    """A command prefix that runs its command with a fresh tmpfs mounted at ``$0``, or None when it cannot."""
    if shutil.which("unshare") is None:
        return None
    for flags in (["-rm"], ["-m"]):
        probe = subprocess.run(["unshare", *flags, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', "/tmp"],
                               capture_output=True)
        if probe.returncode == 0:
            return ["unshare", *flags, "sh", "-c"]
    return None


TMPFS = _tmpfs_prefix()
needs_tmpfs = pytest.mark.skipif(TMPFS is None, reason="cannot mount a private tmpfs here (no unshare or no user namespaces)")


def on_small_disk(mountpoint: Path, size_kb: int, copy_from: Path | None = None, read_only: bool = False,
                  then: list[str] | None = None) -> list[str]:
    """A prefix running a command with ``mountpoint`` a fresh ``size_kb`` tmpfs (filled from ``copy_from``,
    then made read-only); ``then`` runs after the command, on the same disk, and the command's status is kept."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    script = f'mount -t tmpfs -o size={size_kb}k tmpfs "$0"'
    if copy_from is not None:
        script += f' && cp -a "{copy_from}/." "$0/"'
    if read_only:
        script += ' && mount -o remount,ro "$0"'
    if then:
        import shlex

        script += ' && { "$@"; status=$?; ' + " ".join(map(shlex.quote, then)) + "; exit $status; }"
    else:
        script += ' && exec "$@"'
    return [*TMPFS, script, str(mountpoint)]


#: run on the full disk after the failed training: the checkpoint latest.json names must still load
CHECK_LAST_CHECKPOINT = """
import sys
from pathlib import Path
from nlpzoo_training.checkpoint import load_checkpoint
root = Path(sys.argv[1]) / "checkpoints"
state = load_checkpoint(root) if root.exists() else None
print("LAST CHECKPOINT", "none" if state is None else f"step {state['loop']['step']} loads")
"""


@needs_tmpfs
@pytest.mark.parametrize("size_kb", [48, 300])
@pytest.mark.slow
def test_training_on_a_full_disk_names_the_path_and_keeps_the_last_checkpoint(workdir, finished_run, size_kb):
    disk = workdir / f"full-{size_kb}"
    check = [sys.executable, "-c", CHECK_LAST_CHECKPOINT, str(disk / "run")]
    done = train(workdir, workdir / "recipe.yaml", disk / "run", prefix=on_small_disk(disk, size_kb, then=check))
    line = one_line_error(done)
    TALLY.faults += 1
    assert str(disk) in line and ("disk is full" in line or "No space left on device" in line), line
    assert "LAST CHECKPOINT none" in done.stdout or "loads" in done.stdout, done.stdout[-1000:]


@needs_tmpfs
def test_resuming_on_a_read_only_disk_names_the_path(workdir, finished_run):
    source = workdir / "to-freeze"
    shutil.copytree(finished_run, source)  # a finished run: --resume would have nothing to do but open it
    disk = workdir / "frozen"
    done = train(workdir, workdir / "recipe.yaml", disk, "--resume", prefix=on_small_disk(disk, 4096, source, read_only=True))
    line = one_line_error(done)
    TALLY.faults += 1
    assert str(disk) in line and "read-only" in line, line


@needs_tmpfs
@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.slow
def test_writing_an_output_to_a_full_or_read_only_disk_names_the_path(tmp_path, read_only):
    from reliability_support import nlpzoo

    disk = tmp_path / "disk"
    (tmp_path / "empty").mkdir()
    done = nlpzoo("schedule", "cosine", "--steps", "50", "-o", str(disk / "lr.png"),
                  prefix=on_small_disk(disk, 4, tmp_path / "empty" if read_only else None, read_only=read_only))
    line = one_line_error(done)
    TALLY.faults += 1
    assert f"{disk}/lr.png: cannot write: " in line and ("read-only" in line if read_only else "disk is full" in line), line
