"""``nlpzoo sweep`` measured: the BERT paper's grid against TPE and random search at the same budget, with
and without pruning; a mixed search over the LSTM classifier's components against the shipped recipe;
the sweep's own cost per trial against ``nlpzoo train`` in a shell loop.

Every figure comes from the real command line (``nlpzoo sweep``, ``nlpzoo train``) run in a subprocess;
the sweeps' folders go to ``benchmarks/out/sweep/``.

    flock /tmp/nlpzoo-heavy.lock python benchmarks/sweep.py [--part bert lstm overhead] [--bert-trials 18]

Writes ``benchmarks/results/sweep.md`` (each part's section is replaced when that part runs).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "sweep"
RESULTS = ROOT / "benchmarks" / "results" / "sweep.md"
NLPZOO = [sys.executable, "-m", "nlpzoo.cli"]

# The BERT recipe (packaged MiniLM, linear warmup) on a fixed subset: a seeded sample of {limit}
# snippets split 80/10/10, then {train} of its training split, at most {length} tokens. fp32: on a CPU
# without AVX-512 (this machine's AMD EPYC) bf16 autocast is emulated, 13x slower than fp32 for a MiniLM step.
# The objective is the validation loss: on so few snippets every trial of the grid predicted the majority
# class, so validation accuracy was the same for all and could not rank them.
BERT_SUBSET = """\
name: bert-rt-subset
seed: 0
dataset: {{name: rotten-tomatoes, seed: 0, limit: {limit}, train_limit: {train}}}
model: {{name: minilm-l6, max_length: {length}}}
optimizer: {{name: adamw, lr: 5.0e-5}}
scheduler: {{name: linear-warmup, warmup: 0.06}}
train: {{epochs: 3, batch_size: 32, precision: fp32, metric: loss, keep_best: false, log_every: 20, plots: false}}
"""
# A corner of the BERT paper's grid (recipes/sweeps/bert-paper-grid.yaml has all 18 points), small
# enough for a shared 2-core CPU: the extreme learning rates, two epoch counts, batch size 16.
BERT_SMALL_GRID = """\
optimizer.lr: [5.0e-5, 2.0e-5]
train.batch_size: [16]
train.epochs: [2, 3]
"""
TINY_LSTM = """\
seed: 0
dataset: {name: rotten-tomatoes, seed: 0, limit: 300}
model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
optimizer: {name: adamw, lr: 3.0e-3}
train: {epochs: 2, batch_size: 32, metric: accuracy, log_every: 5, plots: false}
"""
OVERHEAD_SPACE = "optimizer.lr: [1.0e-3, 2.0e-3, 3.0e-3, 5.0e-3, 8.0e-3]\n"


def run(args: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done.stdout


def trials(folder: Path) -> list:
    import optuna

    settings = json.loads((folder / "sweep.json").read_text())
    return optuna.load_study(study_name=settings["study"], storage=settings["storage"]).trials


def best_of(folder: Path, minimize: bool = False) -> tuple:
    """The best finished trial and its run's metrics."""
    done = [t for t in trials(folder) if t.state.name == "COMPLETE"]
    best = (min if minimize else max)(done, key=lambda t: t.value)
    return best, json.loads((folder / best.user_attrs["run"] / "metrics.json").read_text())


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# ---------------------------------------------------------------- parts


def bert(args) -> list[str]:
    work = fresh(OUT / "bert")
    (work / "bert-subset.yaml").write_text(BERT_SUBSET.format(limit=args.bert_limit, train=args.bert_train,
                                                              length=args.bert_length))
    if args.bert_full_grid:
        grid, described = ROOT / "recipes" / "sweeps" / "bert-paper-grid.yaml", "the BERT paper's full grid (18 points)"
    else:
        grid = work / "grid.yaml"
        grid.write_text(BERT_SMALL_GRID)
        described = ("a corner of the BERT paper's grid, 4 of its 18 points: learning rate {5e-5, 2e-5} x epochs "
                     "{2, 3} at batch size 16 (`grid.yaml` below)")
    n = str(args.bert_trials)
    runs = [("grid", ["--sampler", "grid"], "grid"),
            ("TPE", ["--sampler", "tpe"], "tpe"), ("random", ["--sampler", "random"], "random"),
            ("TPE, median pruning", ["--sampler", "tpe", "--pruner", "median"], "tpe-median")]
    rows, commands = [], []
    for label, extra, name in runs:
        command = ["sweep", "bert-subset.yaml", "--space", grid.name, "--trials", n, "--dir", name, *extra]
        seconds, _ = run([*NLPZOO, *command[:3], str(grid), *command[4:]], work)
        best, metrics = best_of(work / name, minimize=True)
        states = [t.state.name for t in trials(work / name)]
        rows.append(f"| {label} | {len(states)} | {states.count('PRUNED')} | {best.value:.4f} | "
                    f"{metrics['val_accuracy']:.4f} | {metrics['test_accuracy']:.4f} | {_values(best)} | {seconds / 60:.1f} |")
        commands.append("nlpzoo " + " ".join(command))
    return ["## BERT: a grid against TPE and random, with and without pruning", "",
            "Recipe `bert-subset.yaml`: the BERT recipe (packaged MiniLM, AdamW, linear warmup 6 %, fp32 (bf16 is "
            "emulated on this CPU, 13x slower per step), final "
            f"weights kept, no augmentation) on a fixed subset of Rotten Tomatoes: a seeded sample of "
            f"{args.bert_limit} snippets split 80/10/10, then {args.bert_train} snippets of its training split; "
            f"at most {args.bert_length} tokens. Space: {described}; TPE and random choose from the same points, "
            f"{n} trials each (the grid's size is the budget). Seed 0 everywhere. Median pruning: "
            "`MedianPruner(n_startup_trials=2)` on the validation loss after each epoch. The objective is the "
            "validation loss (`train.metric: loss`): with so few training snippets every grid point predicted the "
            "majority class in a first run with `train.metric: accuracy` (validation accuracy 0.72 for all four), "
            "so accuracy could not rank the trials.", "",
            "```text", f"# grid.yaml", grid.read_text().strip(), *commands, "```", "",
            "| search | trials | pruned | best validation loss | its validation accuracy | its test accuracy | best values | wall time (min) |",
            "|---|---|---|---|---|---|---|---|", *rows, ""]


def lstm(args) -> list[str]:
    work = fresh(OUT / "lstm")
    recipe = ROOT / "recipes" / "lstm-classifier-rt.yaml"
    space = ROOT / "recipes" / "sweeps" / "lstm-components.yaml"
    shrink = [f"dataset.train_limit={args.lstm_train}", f"train.epochs={args.lstm_epochs}"]
    sets = [x for s in shrink for x in ("--set", s)]
    seconds_shipped, _ = run([*NLPZOO, "train", str(recipe), "--run-dir", "shipped", *sets], work)
    shipped = json.loads((work / "shipped" / "metrics.json").read_text())
    seconds, _ = run([*NLPZOO, "sweep", str(recipe), "--space", str(space), "--trials", str(args.lstm_trials),
                      "--dir", "mixed", *sets], work)
    best, metrics = best_of(work / "mixed")
    test = metrics["test_accuracy"]
    again_seconds, _ = run([*NLPZOO, "train", str(work / "mixed" / "best.yaml"), "--run-dir", "best-again"], work)
    again = json.loads((work / "best-again" / "metrics.json").read_text())
    command = (f"nlpzoo sweep recipes/lstm-classifier-rt.yaml --space recipes/sweeps/lstm-components.yaml "
               f"--trials {args.lstm_trials} --dir mixed {' '.join(sets)}")
    return ["## LSTM classifier: a mixed search over components against the shipped recipe", "",
            f"Recipe: `recipes/lstm-classifier-rt.yaml` shrunk to {args.lstm_train} training snippets and "
            f"{args.lstm_epochs} epochs (validation and test: the full 10 % splits, 1,275 snippets each), for the "
            "shipped recipe and every trial alike. Space: `recipes/sweeps/lstm-components.yaml` (augmenter: none, "
            "EDA with its alpha, random swap or EDA on half the snippets; scheduler: cosine or linear warmup or "
            "constant; embedder: Word2Vec vectors or none; learning rate, dropout, hidden size). TPE, seed 0.", "",
            "```text", f"nlpzoo train recipes/lstm-classifier-rt.yaml --run-dir shipped {' '.join(sets)}", command,
            "nlpzoo train mixed/best.yaml --run-dir best-again", "```", "",
            "| recipe | validation accuracy | test accuracy | wall time |", "|---|---|---|---|",
            f"| shipped | {shipped['val_accuracy']:.4f} | {shipped['test_accuracy']:.4f} | {seconds_shipped:.0f} s |",
            f"| best of {args.lstm_trials} trials (trial {best.number}) | {best.value:.4f} | {test:.4f} | "
            f"{seconds:.0f} s for the sweep |",
            f"| best.yaml trained again | {again['val_accuracy']:.4f} | {again['test_accuracy']:.4f} | {again_seconds:.0f} s |",
            "", f"The best trial's values: {_values(best)}.", ""]


def overhead(args) -> list[str]:
    work = fresh(OUT / "overhead")
    (work / "tiny.yaml").write_text(TINY_LSTM)
    (work / "space.yaml").write_text(OVERHEAD_SPACE)
    sweep_seconds, _ = run([*NLPZOO, "sweep", "tiny.yaml", "--space", "space.yaml", "--sampler", "grid",
                            "--dir", "sw"], work)
    values = [t.params["optimizer.lr"] for t in trials(work / "sw")]
    loop = "for lr in " + " ".join(f"{v!r}" for v in values) + \
        '; do nlpzoo train tiny.yaml --run-dir "loop-$lr" --set optimizer.lr=$lr; done'
    scripts = Path(sys.executable).parent
    started = time.perf_counter()
    done = subprocess.run(["bash", "-e", "-c", loop], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"})
    loop_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    inside = sum(t.user_attrs["seconds"] for t in trials(work / "sw"))
    n = len(values)
    return ["## The sweep's own cost per trial", "",
            f"The same {n} trials (a tiny LSTM classifier on 300 snippets, 2 epochs; learning rates "
            f"{', '.join(map(str, values))}) run once by one `nlpzoo sweep` and once by `nlpzoo train` in a "
            "shell loop, one after the other in one run of this script.", "",
            "```text", "nlpzoo sweep tiny.yaml --space space.yaml --sampler grid --dir sw", loop, "```", "",
            "| | wall time | per trial |", "|---|---|---|",
            f"| nlpzoo sweep ({n} trials, one process) | {sweep_seconds:.1f} s | {sweep_seconds / n:.2f} s |",
            f"| nlpzoo train in a shell loop | {loop_seconds:.1f} s | {loop_seconds / n:.2f} s |",
            f"| inside the sweep's trials (building, training, saving each run) | {inside:.1f} s | {inside / n:.2f} s |",
            "",
            f"Sweep / loop: **{sweep_seconds / loop_seconds:.2f}x**. The sweep's own machinery (study, sampler, SQLite, "
            f"best.yaml and sweep.html after every trial, process start-up once) costs "
            f"{(sweep_seconds - inside) / n:.2f} s per trial; the loop pays a process start-up (imports, plugins) "
            "for every trial.", ""]


def _values(trial) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in trial.user_attrs.get("values", {}).items())


PARTS = {"bert": bert, "lstm": lstm, "overhead": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--bert-trials", type=int, default=4)
    parser.add_argument("--bert-full-grid", action="store_true", help="the paper's 18 points (use --bert-trials 18)")
    parser.add_argument("--bert-limit", type=int, default=1000)
    parser.add_argument("--bert-train", type=int, default=160)
    parser.add_argument("--bert-length", type=int, default=32)
    parser.add_argument("--lstm-trials", type=int, default=6)
    parser.add_argument("--lstm-train", type=int, default=1000)
    parser.add_argument("--lstm-epochs", type=int, default=2)
    args = parser.parse_args()
    sections = _read_sections()
    for part in args.part:
        started = time.time()
        lines = PARTS[part](args)
        load = os.getloadavg()[0]
        lines += [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} with "
                  f"`python benchmarks/sweep.py --part {part}` ({' '.join(sys.argv[1:])}), "
                  f"{os.cpu_count()} CPU cores shared with other work (load average {load:.1f} at the end), "
                  f"torch on 1 thread, Python {platform.python_version()}.", ""]
        sections[part] = "\n".join(lines)
        RESULTS.write_text("# nlpzoo sweep\n\n" + "\n".join(sections[p] for p in PARTS if p in sections))
        print(f"{part}: done in {time.time() - started:.0f} s", flush=True)


def _read_sections() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text().split("\n", 2)[-1]
    out = {}
    for chunk in re.split(r"(?m)^(?=## )", text):
        for part, title in (("bert", "## BERT"), ("lstm", "## LSTM"), ("overhead", "## The sweep")):
            if chunk.startswith(title):
                out[part] = chunk.rstrip("\n") + "\n"
    return out


if __name__ == "__main__":
    main()
