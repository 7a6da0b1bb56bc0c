"""Two processes under torchrun (DDP, gloo on CPU): the ranks agree and only rank 0 writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

import nlpzoo


pytestmark = pytest.mark.slow  # torchrun: several processes each

TESTS = Path(__file__).resolve().parent

# Runs in each process. On every rank but 0, any attempt to create or open for writing a file under
# the run directory is recorded (and refused), so "only rank 0 writes" is checked, not assumed.
SCRIPT = '''
import builtins, hashlib, io, json, os, sys
run_dir = os.path.abspath(sys.argv[1])
rank = int(os.environ["RANK"])
violations = []

def guarded(fn, mode_arg=None):
    def wrapper(path, *args, **kwargs):
        p = os.path.abspath(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else ""
        mode = kwargs.get("mode", args[0] if args else "r") if mode_arg == "mode" else kwargs.get("flags", args[0] if args else 0)
        writing = (mode_arg == "mode" and any(c in str(mode) for c in "wax+")) or (mode_arg == "flags" and mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)) or mode_arg is None
        if p.startswith(run_dir) and writing:
            violations.append(p)
            raise PermissionError(f"rank {rank} wrote {p}")
        return fn(path, *args, **kwargs)
    return wrapper

if rank != 0:
    builtins.open = io.open = guarded(io.open, "mode")
    os.open = guarded(os.open, "flags")
    os.mkdir = guarded(os.mkdir)

from nlpzoo_training.run import Run
from training_tasks import Linear, weights

run = Run.standalone(run_dir, seed=5, train={"epochs": 2, "batch_size": 8, "log_every": 2, "progress": False,
                                             "grad_accum": int(sys.argv[2]), "clip_grad_norm": None})
task = Linear()
final = run.fit(task)
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in weights(task).values())).hexdigest()
flat = [x for v in weights(task).values() for x in v.flatten().tolist()]
print("RESULT " + json.dumps({"rank": rank, "world": run.world_size, "final": final, "digest": digest,
                              "weights": flat, "violations": violations}), flush=True)
'''


def torchrun(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def results(stdout: str) -> list[dict]:
    return sorted((json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")), key=lambda r: r["rank"])


def test_two_processes_agree_only_rank_0_writes_and_match_one_process(tmp_path):
    script = tmp_path / "ddp_task.py"
    script.write_text(SCRIPT)
    done = torchrun(str(script), str(tmp_path / "ddp"), "1")
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = results(done.stdout)
    assert (r0["rank"], r1["rank"], r0["world"]) == (0, 1, 2)
    assert r0["final"] == r1["final"] and r0["digest"] == r1["digest"]  # the ranks agree
    assert r1["violations"] == []
    rows = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    kinds = Counter((r["step"], "val_loss" in r) for r in rows)
    assert max(kinds.values()) == 1  # one writer: no record twice
    assert [r["step"] for r in rows if "val_loss" in r] == [6, 12]  # 12 batches a epoch, sharded over 2 ranks

    # the same data in one process, two batches per step, gives the same weights
    from nlpzoo_training.run import Run
    from training_tasks import Linear, weights

    run = Run.standalone(tmp_path / "one", seed=5, train={"epochs": 2, "batch_size": 8, "log_every": 2, "progress": False,
                                                          "grad_accum": 2, "clip_grad_norm": None})
    task = Linear()
    single = run.fit(task)
    assert single.keys() == r0["final"].keys()
    for k in single:
        assert single[k] == pytest.approx(r0["final"][k], rel=1e-4, abs=1e-5)
    flat = torch.cat([v.flatten() for v in weights(task).values()])
    torch.testing.assert_close(flat, torch.tensor(r0["weights"]), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif("lstm-classifier" not in nlpzoo.components(), reason="needs the lstm plugin's lstm-classifier")
def test_the_cli_trains_a_recipe_on_two_processes(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("seed: 1\ndataset: {name: polarity-200}\n"
                      "model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16, max_length: 24}\n"
                      "train: {epochs: 2, batch_size: 16, metric: accuracy, log_every: 1, plots: false}\n")
    run = tmp_path / "run"
    done = torchrun("-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    printed = Counter(line for line in done.stdout.splitlines() if line.startswith(("val_", "test_")))
    names = {line.split(":")[0] for line in printed}
    reported = {"loss", "accuracy", "macro_f1", "precision_neg", "precision_pos", "recall_neg", "recall_pos"}
    assert names == {f"{split}_{m}" for split in ("val", "test") for m in reported}
    assert set(printed.values()) == {2}  # both ranks print the same metrics with the same values
    metrics = json.loads((run / "metrics.json").read_text())
    assert {f"{k}: {v:.4f}" for k, v in metrics.items()} == set(printed)
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train_loss" in r] == list(range(1, 11))  # 10 batches / 2 ranks x 2 epochs
    assert (run / "model").is_dir()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_machines(*args: str, timeout: int = 300) -> list[subprocess.CompletedProcess]:
    """``args`` under torchrun on two "machines" (node ranks 0 and 1, one process each) meeting at a local port."""
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--node-rank", str(rank), "--rdzv-backend", "static",
                               "--rdzv-endpoint", f"127.0.0.1:{port}", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for rank in (0, 1)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        outs.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return outs


@pytest.mark.skipif("lstm-classifier" not in nlpzoo.components(), reason="needs the lstm plugin's lstm-classifier")
def test_two_machines_agree_write_one_checkpoint_and_resume(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("seed: 1\ndataset: {name: polarity-200}\n"
                      "model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16, max_length: 24}\n"
                      "train: {epochs: 2, batch_size: 16, metric: accuracy, log_every: 1, plots: false, progress: false}\n")
    run = tmp_path / "run"
    first = two_machines("-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run), "--set", "train.max_steps=3")
    assert [p.returncode for p in first] == [0, 0], first[0].stderr[-2000:] + first[1].stderr[-2000:]
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))
    assert checkpoints == ["step-00000003"]  # one writer: one checkpoint
    again = two_machines("-m", "nlpzoo.cli", "train", str(recipe), "--run-dir", str(run), "--resume")
    assert [p.returncode for p in again] == [0, 0], again[0].stderr[-2000:] + again[1].stderr[-2000:]
    printed = [sorted(line for line in p.stdout.splitlines() if line.startswith(("val_", "test_"))) for p in again]
    assert printed[0] and printed[0] == printed[1]  # both machines end with the same metrics
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train_loss" in r] == list(range(1, 11))  # steps 4 to 10 continue from 3
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
