"""What the reliability suite shares: its tally, the real CLI in a subprocess, and tiny recipes.

Every test adds what it did to :data:`TALLY`; ``conftest.py`` prints the totals at the end of the run:
cases run, faults injected, runs resumed identical, files refused, tracebacks (which must be 0).
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nlpzoo.errors import NlpzooError


@dataclass
class Tally:
    cases: int = 0
    faults: int = 0
    resumed_identical: int = 0
    refused: int = 0
    tracebacks: int = 0
    #: cases per family of attack: "injection", "untrusted run folders", "code-execution paths", "data-loss paths"
    families: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"cases run: {self.cases:,}", f"faults injected: {self.faults:,}",
                f"runs resumed identical: {self.resumed_identical:,}", f"files refused: {self.refused:,}",
                *(f"{family} cases: {n:,}" for family, n in sorted(self.families.items())),
                f"tracebacks: {self.tracebacks:,}"]

    def count(self, family: str, n: int = 1) -> None:
        """One more case of an attack ``family`` (counted in the summary under its own line)."""
        self.families[family] = self.families.get(family, 0) + n


TALLY = Tally()

#: how many times more examples to draw than the CI budget (NLPZOO_FUZZ=explore: 5)
SCALE = 5 if os.environ.get("NLPZOO_FUZZ") == "explore" else 1


def examples(n: int) -> int:
    """The number of hypothesis examples for a test whose CI budget is ``n``."""
    return n * SCALE


def refused_cleanly(call, *args, **kwargs):
    """Run ``call``; an NlpzooError is a clean refusal (counted, returned), anything else a traceback (raised).

    Returns ``(result, None)`` or ``(None, error)``.
    """
    TALLY.cases += 1
    try:
        return call(*args, **kwargs), None
    except NlpzooError as exc:
        TALLY.refused += 1
        assert "\n" not in str(exc).strip(), f"an error of more than one line: {exc!r}"
        return None, exc
    except BaseException:
        TALLY.tracebacks += 1
        raise


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The single ``nlpzoo: error:`` line of a failed command; asserts there is no traceback."""
    TALLY.cases += 1
    if "Traceback" in done.stderr:
        TALLY.tracebacks += 1
        raise AssertionError(f"a traceback reached the user:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert done.returncode != 0, f"expected a refusal, got exit 0: {done.stdout[-500:]}"
    assert lines and lines[-1].startswith("nlpzoo: error: "), done.stderr[-2000:]
    errors = [line for line in lines if line.startswith("nlpzoo: error")]
    assert len(errors) == 1, done.stderr[-2000:]
    TALLY.refused += 1
    return errors[0]


def no_traceback(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    TALLY.cases += 1
    if "Traceback" in done.stderr:
        TALLY.tracebacks += 1
        raise AssertionError(f"a traceback reached the user:\n{done.stderr[-3000:]}")
    return done


def nlpzoo(*args: str, input: str | bytes | None = None, cwd=None, env: dict | None = None, timeout: float = 300,
           preexec_fn=None, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """The real command in a subprocess (``python -m nlpzoo.cli``), text out; ``input`` may be bytes."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = [*(prefix or []), sys.executable, "-m", "nlpzoo.cli", *args]
    done = subprocess.run(cmd, input=input.encode() if isinstance(input, str) else input, capture_output=True,
                          cwd=cwd, env=full_env, timeout=timeout, preexec_fn=preexec_fn)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


#: a classifier that trains in a few seconds on 2 cores: 10 steps an epoch, checkpoints every 4 steps
TINY_CLASSIFIER = """\
seed: 3
dataset: {name: polarity-200, seed: 0}
model: {name: lstm-classifier, embedding_dim: 8, hidden_size: 8, max_length: 16, dropout: 0.2}
optimizer: {name: adamw, lr: 5.0e-3}
scheduler: {name: cosine-warmup, warmup: 0.1}
train: {epochs: 2, batch_size: 16, metric: accuracy, checkpoint_every: 4, log_every: 2, plots: false}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------- fault injection

#: A plugin the training subprocess registers before the real CLI runs. It SIGKILLs its own process at
#: the point NLPZOO_FAULT names, with no chance to clean up: at an optimizer step (``step:N``), when the
#: loop has ended after its last checkpoint (``end``), just before or after the trained model's folder
#: is renamed into place (``before-model``, ``after-model``), just after metrics.json is written
#: (``after-metrics``), or after some seconds wherever it is (``after:SECONDS``).
FAULTS_PLUGIN = '''
import os, pathlib, signal, threading
import nlpzoo
from nlpzoo.kinds import Callback

PHASE = os.environ.get("NLPZOO_FAULT", "")


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class Faults(Callback):
    def on_step(self, run, step, logs):
        if PHASE == f"step:{step}":
            die()

    def on_end(self, run, metrics):
        if PHASE == "end":
            die()


@nlpzoo.hookimpl
def register_components(register):
    register("callback", "faults", target="faultinject:Faults", summary="Test helper: dies where NLPZOO_FAULT says.")


_replace = os.replace


def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if PHASE == "after-metrics" and os.path.basename(str(dst)) == "metrics.json":
        die()


os.replace = replace
_rename = pathlib.Path.rename


def rename(self, target):
    if PHASE == "before-model" and os.path.basename(str(target)) == "model":
        die()
    out = _rename(self, target)
    if PHASE == "after-model" and os.path.basename(str(target)) == "model":
        die()
    return out


pathlib.Path.rename = rename
if PHASE.startswith("after:"):
    threading.Timer(float(PHASE[len("after:"):]), die).start()
'''

LAUNCH = ("import sys, faultinject; from nlpzoo.plugins import get_manager; "
          "get_manager().add_plugin(faultinject, 'faultinject'); from nlpzoo.cli import main; main(sys.argv[1:])")


def fault_env(folder: Path, fault: str | None = None) -> dict:
    """Environment for a subprocess that loads the fault plugin from ``folder``."""
    (folder / "faultinject.py").write_text(FAULTS_PLUGIN)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    env.pop("NLPZOO_FAULT", None)
    if fault:
        env["NLPZOO_FAULT"] = fault
    return env


def train(folder: Path, recipe: Path, run_dir: Path | None, *extra: str, fault: str | None = None, cwd=None,
          timeout: float = 600, prefix: list[str] | None = None, popen: bool = False):
    """``nlpzoo train`` in a subprocess with the fault plugin loaded; a Popen when ``popen``."""
    args = [*(prefix or []), sys.executable, "-c", LAUNCH, "train", str(recipe)]
    if run_dir is not None:
        args += ["--run-dir", str(run_dir)]
    args += list(extra)
    env = fault_env(folder, fault)
    if popen:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


#: the tiny classifier with the fault plugin's callback
FAULTY_CLASSIFIER = TINY_CLASSIFIER + "callbacks: [{name: faults}]\n"
