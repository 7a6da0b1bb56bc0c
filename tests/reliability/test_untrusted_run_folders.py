"""Untrusted run folders: a run folder from someone else never makes nlpzoo write or read outside it,
hang, exhaust memory, or fail a whole listing.

Every case copies the real finished run and plants one thing in it: a symlink where nlpzoo writes, a
symlink out where it reads, a FIFO, an alias bomb, a wrong type in a record. Then it runs the commands
that see run folders (``report``, ``compare``, ``runs``, ``predict``, ``train --resume``).
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import random
import shutil
import stat
from pathlib import Path

import pytest

from reliability_support import TALLY, nlpzoo, train, write

FAMILY = "untrusted run folders"
SECRET = "SECRET-TOKEN-4242"


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "runs" / "run"
    shutil.copytree(finished_run, copy, symlinks=True)
    return copy


def victim_file(tmp_path: Path, name: str = "victim.txt") -> Path:
    return write(tmp_path / name, SECRET + "\n")


def plant_symlink(run: Path, rel: str, target: Path) -> Path:
    path = run / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)
    return path


def no_traceback_seen(done) -> None:
    TALLY.cases += 1
    TALLY.count(FAMILY)
    if "Traceback" in done.stderr:
        TALLY.tracebacks += 1
        raise AssertionError(done.stderr[-3000:])


# ---------------------------------------------------------------- writes never follow a symlink


def test_report_never_writes_through_a_symlink_in_the_run(run_copy, tmp_path):
    victim = victim_file(tmp_path)
    plant_symlink(run_copy, "report.html", victim)
    done = nlpzoo("report", str(run_copy))
    no_traceback_seen(done)
    assert victim.read_text() == SECRET + "\n"
    assert done.returncode != 0 and "symlink" in done.stderr, done.stderr


#: what ``train --resume`` creates or replaces in a run folder, each planted as a symlink out of it
RESUME_WRITES = ["run.json", "metrics.jsonl", "metrics.json", "provenance.json", "report.html", "confusion_test.png",
                 ".model.tmp", "model", "plots"]


@pytest.mark.parametrize("rel", RESUME_WRITES)
def test_resume_never_writes_through_a_symlink_in_the_run(workdir, run_copy, tmp_path, rel):
    victim = victim_file(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    if rel in ("run.json",):  # the link must still read as the run's record for --resume to get that far
        shutil.copy(run_copy / rel, victim)
    before = victim.read_bytes()
    plant_symlink(run_copy, rel, outside if rel in (".model.tmp", "model", "plots") else victim)
    done = train(workdir, workdir / "recipe.yaml", run_copy, "--resume")
    no_traceback_seen(done)
    assert victim.read_bytes() == before, f"{rel}: the file the symlink points to was written"
    assert list(outside.iterdir()) == [], f"{rel}: {sorted(p.name for p in outside.iterdir())} written outside the run"


# ---------------------------------------------------------------- reads stay inside, bounded, regular files


READS = ["recipe.yaml", "metrics.jsonl", "provenance.json", "metrics.json", "samples/generated.json", "plots/env.png",
         "samples/secret.png"]


@pytest.mark.parametrize("rel, command", list(itertools.product(READS, ["report", "compare", "runs"])))
@pytest.mark.slow
def test_report_compare_and_runs_read_nothing_outside_the_run(run_copy, finished_run, tmp_path, rel, command):
    secret = victim_file(tmp_path, "secret.png" if rel.endswith(".png") else "secret.txt")
    plant_symlink(run_copy, rel, secret)
    out = tmp_path / "page.html"
    args = {"report": ["report", str(run_copy), "-o", str(out)],
            "compare": ["compare", str(run_copy), str(finished_run), "-o", str(out)],
            "runs": ["runs", str(run_copy.parent), "--json"]}[command]
    done = nlpzoo(*args, timeout=120)
    no_traceback_seen(done)
    seen = done.stdout + done.stderr + (out.read_text() if out.exists() else "")
    encoded = base64.b64encode((SECRET + "\n").encode()).decode()
    assert SECRET not in seen and encoded not in seen, f"{rel} -> {secret}: its content reached the output"


SPECIAL = ["recipe.yaml", "metrics.jsonl", "provenance.json", "metrics.json", "samples/generated.json", "plots/x.png"]


@pytest.mark.parametrize("rel, command", list(itertools.product(SPECIAL, ["report", "compare", "runs"])))
@pytest.mark.slow
def test_a_fifo_in_a_run_never_hangs_report_compare_or_runs(run_copy, finished_run, tmp_path, rel, command):
    path = run_copy / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    args = {"report": ["report", str(run_copy), "-o", str(tmp_path / "page.html")],
            "compare": ["compare", str(run_copy), str(finished_run), "-o", str(tmp_path / "page.html")],
            "runs": ["runs", str(run_copy.parent)]}[command]
    done = nlpzoo(*args, timeout=60)  # a hang is a TimeoutExpired: the case fails
    no_traceback_seen(done)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


@pytest.mark.parametrize("command", ["report", "compare", "runs"])
def test_an_alias_bomb_in_a_runs_recipe_is_refused_not_expanded(run_copy, finished_run, tmp_path, command):
    from test_yaml_fuzz import bomb

    write(run_copy / "recipe.yaml", bomb(9, 9))
    args = {"report": ["report", str(run_copy), "-o", str(tmp_path / "page.html")],
            "compare": ["compare", str(run_copy), str(finished_run), "-o", str(tmp_path / "page.html")],
            "runs": ["runs", str(run_copy.parent)]}[command]
    done = nlpzoo(*args, timeout=60)
    no_traceback_seen(done)
    assert command == "runs" or "expands to more than 100,000 nodes" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("name, kind", list(itertools.product(["model.safetensors", "component.json", "extra/x.bin"],
                                                               ["fifo", "symlink-to-dev-zero"])))
def test_a_model_folder_with_files_that_are_not_regular_is_refused(run_copy, name, kind):
    """A file loading reads, swapped for a FIFO (or a symlink to /dev/zero) and dropped from the recorded digests."""
    model = run_copy / "model"
    victim = model / name
    victim.parent.mkdir(parents=True, exist_ok=True)
    if victim.exists():
        victim.unlink()
    if kind == "fifo":
        os.mkfifo(victim)
    else:
        victim.symlink_to("/dev/zero")
    info = json.loads((run_copy / "run.json").read_text())
    info["model_sha256"].pop(name, None)
    write(run_copy / "run.json", json.dumps(info))
    done = nlpzoo("predict", str(run_copy), "a fine film", timeout=60)
    no_traceback_seen(done)
    assert done.returncode != 0 and str(victim) in done.stderr, done.stderr[-2000:]


# ---------------------------------------------------------------- one bad folder is one line


def damaged_record(rng: random.Random, info: dict) -> dict:
    """run.json with one field of the wrong type or an absurd value."""
    info = json.loads(json.dumps(info))
    key = rng.choice(["status", "dataset", "seed", "seconds", "started", "device", "metrics", "model",
                      "train_seconds", "world_size", "finished"])
    value = rng.choice([[1, 2], {"a": 1}, "x" * 50, 10 ** 400, -1, None, True, "\x1b]0;title\x07", 1e308, "NaN"])
    if key == "model":
        info["model"] = {**info["model"], "extra": value}
    elif key == "metrics" and not isinstance(value, dict):
        info["metrics"] = {"test_accuracy": value}
    else:
        info[key] = value
    return info


def damaged_metrics_lines(rng: random.Random) -> str:
    return "".join(rng.choice(['[1, 2]\n', '"text"\n', '{"step": "x", "val_loss": [1]}\n', "1" * 400 + "\n",
                               '{"step": 1, "val_accuracy": ' + "9" * 400 + "}\n", '{"step": 2, "val_loss": NaN}\n',
                               "null\n", '{"step": {"a": 1}}\n']) for _ in range(rng.randint(1, 4)))


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.slow
def test_one_malformed_run_is_one_line_and_the_others_are_listed(finished_run, tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / "good", symlinks=True)
    bad = root / "bad"
    shutil.copytree(finished_run, bad, symlinks=True)
    info = json.loads((bad / "run.json").read_text())
    what = rng.choice(["run.json", "metrics.jsonl", "metrics.json", "both"])
    if what in ("run.json", "both"):
        write(bad / "run.json", json.dumps(damaged_record(rng, info)))
    if what in ("metrics.jsonl", "both"):
        write(bad / "metrics.jsonl", damaged_metrics_lines(rng))
    if what == "metrics.json":
        write(bad / "metrics.json", json.dumps(rng.choice([[1], "x", {"test_accuracy": [1]}, {"a": 10 ** 400}])))
    listing = nlpzoo("runs", str(root), timeout=60)
    no_traceback_seen(listing)
    assert listing.returncode == 0 and "good" in listing.stdout, listing.stderr[-2000:]
    as_json = nlpzoo("runs", str(root), "--json", timeout=60)
    no_traceback_seen(as_json)
    rows = json.loads(as_json.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert any(r["run"] == "good" for r in rows)
    for command in (["report", str(bad), "-o", str(tmp_path / "r.html")],
                    ["compare", str(bad), str(root / "good"), "-o", str(tmp_path / "c.html")]):
        done = nlpzoo(*command, timeout=60)
        no_traceback_seen(done)
        errors = [line for line in done.stderr.splitlines() if line.startswith("nlpzoo: error")]
        assert done.returncode == 0 or (len(errors) == 1 and "Error:" not in errors[0]), done.stderr[-2000:]


def test_runs_json_writes_a_nan_metric_as_null(finished_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / "nan", symlinks=True)
    metrics = json.loads((root / "nan" / "metrics.json").read_text())
    write(root / "nan" / "metrics.json", json.dumps(dict.fromkeys(metrics, float("nan"))))
    info = json.loads((root / "nan" / "run.json").read_text())
    write(root / "nan" / "run.json", json.dumps({**info, "metrics": dict.fromkeys(metrics, float("nan"))}))
    done = nlpzoo("runs", str(root), "--json")
    no_traceback_seen(done)
    rows = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the output is not JSON"))
    assert rows[0]["run"] == "nan" and rows[0]["value"] is None


# ---------------------------------------------------------------- declared sizes against file sizes


def limited_memory():
    """At most 3 GiB of address space: a regression fails with MemoryError, it does not take the machine down."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("header", [b"999999999 300\n", b"1000000 1000\n", b"5 99999999\n", b"-1 300\n", b"x y\n"])
@pytest.mark.slow
def test_a_word2vec_header_that_declares_more_than_the_file_holds_is_refused(tmp_path, header):
    import subprocess
    import sys

    vectors = tmp_path / "vectors.bin"
    vectors.write_bytes(header + b"word " + b"\x00" * 1200)
    code = ("import sys; from pathlib import Path; from nlpzoo_word2vec.models import Word2Vec; "
            "Word2Vec().load_state(Path(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                          preexec_fn=limited_memory)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert "MemoryError" not in done.stderr, done.stderr[-1000:]
    assert "ConfigError" in done.stderr and str(vectors) in done.stderr, done.stderr[-1000:]


@pytest.mark.parametrize("layers, hidden", [(10000, 768), (100, 4096), (2, 10 ** 7)])
@pytest.mark.slow
def test_a_bert_config_that_declares_more_than_its_weights_is_refused(tmp_path, layers, hidden):
    import subprocess
    import sys

    write(tmp_path / "config.json", json.dumps({"model_type": "bert", "architectures": ["BertForSequenceClassification"],
                                                "num_hidden_layers": layers, "hidden_size": hidden,
                                                "num_attention_heads": 4, "intermediate_size": 4 * hidden,
                                                "vocab_size": 30, "max_position_embeddings": 16}))
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    code = "import sys; from nlpzoo_bert.hf import load_trained; load_trained(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120,
                          preexec_fn=limited_memory)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert "MemoryError" not in done.stderr, done.stderr[-1000:]
    assert "ConfigError" in done.stderr and "config.json" in done.stderr and "refusing to build it" in done.stderr, \
        done.stderr[-1000:]
