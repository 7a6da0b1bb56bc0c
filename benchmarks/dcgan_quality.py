"""How good are the digits? Each DCGAN variant against held-out real digits (the ceiling) and the same
generator untrained (the floor), measured by an independent judge.

    python benchmarks/dcgan_quality.py [--only NAME ...] [--samples 500]
    python benchmarks/dcgan_quality.py --run RUN_DIR [--run RUN_DIR ...]

Without ``--run`` it trains every variant below that has no finished run yet into
``benchmarks/out/dcgan-<name>`` (``nlpzoo train``, one after the other, about 10 minutes each on
2 cores), measures them all and writes ``benchmarks/results/dcgan_quality.md``. With ``--run`` it
measures those runs (of ``mnist-5k``) and writes ``dcgan_quality.md`` beside the first of them, never
over the project's recorded results.

The judge is a small CNN trained here on the training split (not the one a model used to pick its
checkpoint). For each row it reports, on ``--samples`` images:

- ``FD``: Fréchet distance between the judge's 64-d features of the images and of the real test
  digits (lower is better);
- ``confident``: share of images the judge classifies with probability above 0.9;
- ``coverage``: entropy of the judge's predicted-class histogram over log 10 (1 = every digit equally).

Ceiling: the real validation digits. Floor: the first variant's generator before training (same seed).
Generated rows come from ``sample(n, seed=99)``; a class-conditional model cycles through the digits.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

import nlpzoo
from nlpzoo_dcgan.quality import scores, to_unit, train_judge

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
JUDGE_SEED = 1234

# name -> (recipe, --set overrides, what the row shows); each builds on the last where it says so
VARIANTS = {
    "baseline": ("recipes/dcgan-mnist.yaml", [], "the DCGAN paper's recipe: bce loss, Adam 2e-4 for both, 35 epochs"),
}


def train_command(recipe: str, overrides: list[str], run_dir: Path) -> list[str]:
    return ["nlpzoo", "train", recipe, *[a for o in overrides for a in ("--set", o)], "--run-dir", str(run_dir)]


def shown(command: list[str]) -> str:
    return " ".join(shlex.quote(str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c) for c in command)


def train(name: str) -> None:
    recipe, overrides, _ = VARIANTS[name]
    run_dir = OUT / f"dcgan-{name}"
    if (run_dir / "model").exists():
        print(f"{name}: {run_dir} already holds a finished run; measuring it")
        return
    command = train_command(recipe, overrides, run_dir)
    print(f"{name}: {shown(command)}", flush=True)
    resume = ["--resume"] if (run_dir / "recipe.yaml").exists() else []
    subprocess.run([sys.executable, "-m", "nlpzoo.cli", *command[1:], *resume], check=True, cwd=ROOT)


def seconds_of(run_dir: Path) -> float | None:
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    return info.get("seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="a finished run on mnist-5k (repeatable)")
    parser.add_argument("--only", action="append", default=[], choices=list(VARIANTS), help="variants to train and measure")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--judge-epochs", type=int, default=6)
    args = parser.parse_args()
    if args.run:
        runs = {Path(r).name: (Path(r), "(given with --run)") for r in args.run}
    else:
        names = args.only or list(VARIANTS)
        for name in names:
            train(name)
        runs = {name: (OUT / f"dcgan-{name}", VARIANTS[name][2]) for name in names}
    handles = {name: nlpzoo.open_run(path) for name, (path, _) in runs.items()}
    first = next(iter(handles.values()))
    data = first.dataset().load()
    train_split, val, test = data["train"], data["validation"], data["test"]
    n = min(args.samples, len(val), len(test))

    judge = train_judge(train_split.images, train_split.labels, train_split.num_classes, epochs=args.judge_epochs,
                        seed=JUDGE_SEED)
    reference = to_unit(test.images[:n])
    judge_acc = scores(judge, to_unit(test.images), reference, labels=test.labels)["accuracy"]

    gan = first.model
    untrained = nlpzoo.build({"name": "dcgan", "latent": gan.latent, "g_width": gan.g_width, "d_width": gan.d_width,
                              "init": gan.init, "quality": False}, "gan").build(gan.shape, gan.classes, seed=gan.seed)
    ceiling = scores(judge, to_unit(val.images[:n]), reference)
    floor = scores(judge, torch.from_numpy(untrained.sample(n, seed=99)), reference)
    lines = ["| images | FD to test digits (lower is better) | confident (>0.9) | class coverage | training time | command |",
             "| --- | ---: | ---: | ---: | ---: | --- |",
             _row("ceiling: real validation digits", ceiling, None, ""),
             _row(f"floor: untrained generator ({first.dir.name})", floor, None, "")]
    for name, handle in handles.items():
        path, what = runs[name]
        command = shown(train_command(*VARIANTS[name][:2], path)) if name in VARIANTS and not args.run else f"--run {path}"
        r = scores(judge, torch.from_numpy(handle.model.sample(n, seed=99)), reference)
        lines.append(_row(f"{name}: {what}", r, seconds_of(path), command))
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    targets = (f"Targets: confident at least 0.85, coverage at least 0.95 x the ceiling's "
               f"({0.95 * ceiling['coverage']:.3f}), FD below 150.")
    print(table)
    threads = os.environ.get("OMP_NUM_THREADS")
    cmd = (f"OMP_NUM_THREADS={threads} " if threads else "") + "python " + shlex.join(
        [str(Path(sys.argv[0]).resolve().relative_to(ROOT)) if Path(sys.argv[0]).resolve().is_relative_to(ROOT) else sys.argv[0],
         *sys.argv[1:]])
    out = (Path(args.run[0]) if args.run else ROOT / "benchmarks" / "results") / "dcgan_quality.md"
    out.parent.mkdir(exist_ok=True)
    load = os.getloadavg()
    out.write_text(
        "# DCGAN quality on real MNIST digits\n\n"
        f"`{cmd}` on {platform.machine()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads), "
        f"torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).\n\n"
        f"Judge: a small CNN trained on the {len(train_split)} training digits ({args.judge_epochs} epochs, seed "
        f"{JUDGE_SEED}), accuracy {judge_acc:.3f} on the {len(test)} test digits; its 64-d features give the Fréchet "
        f"distance to {n} real test digits. Each row scores {n} images; generated ones come from `sample(n, seed=99)`. "
        "Training time is the run's own (`run.json`), the command the one that trained it.\n\n"
        + table + f"\n\n{targets}\n")
    print(f"wrote {out}")


def _row(name: str, r: dict, seconds: float | None, command: str) -> str:
    time_ = f"{seconds:.0f} s" if seconds else ""
    return (f"| {name} | {r['frechet_distance']:.2f} | {r['confident']:.3f} | {r['coverage']:.3f} | {time_} | "
            + (f"`{command}`" if command else "") + " |")


if __name__ == "__main__":
    main()
