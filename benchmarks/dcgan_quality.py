"""How good are the digits? Each DCGAN variant against held-out real digits (the ceiling) and the same
generator untrained (the floor), measured by an independent judge.

    python benchmarks/dcgan_quality.py [--only NAME ...] [--train-only] [--samples 500]
    python benchmarks/dcgan_quality.py --run RUN_DIR [--run RUN_DIR ...]

Without ``--run`` it trains every variant below (or those named with ``--only``) that has no finished
run yet into ``benchmarks/out/dcgan-<name>`` (``nlpzoo train``, one after the other; the recipe's
budget fits 10 minutes on 2 cores), measures them and writes ``benchmarks/results/dcgan_quality.md``;
``--train-only`` stops after training (to train variants in several processes, then measure all in
one). Each row's training command, time and the machine's load are recorded in ``bench.json`` beside
its run. With ``--run`` it measures those runs (of ``mnist-5k``) and writes ``dcgan_quality.md`` beside
the first of them, never over the project's recorded results.

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

RECIPE = "recipes/dcgan-mnist.yaml"
# name -> (recipe, --set overrides, what the row shows): the recipe, the former one, and one change each
VARIANTS = {
    "former": (RECIPE, ["model.name=dcgan", "train.ema=null", "train.epochs=35"],
               "the former recipe: the DCGAN paper's settings (dcgan, bce, Adam 2e-4 for both), 35 epochs"),
    "recipe": (RECIPE, [], "the recipe: cdcgan (projection discriminator) with a moving average of the weights, 30 epochs"),
    "no-ema": (RECIPE, ["train.ema=null"], "the recipe without the moving average"),
    "unconditional": (RECIPE, ["model.name=dcgan"], "the recipe without class conditioning (dcgan)"),
    "ttur": (RECIPE, ["model.lr_d=4e-4"], "the recipe with two time-scale learning rates (D 4e-4, G 2e-4)"),
    "spectral-norm": (RECIPE, ["model.spectral_norm=true"], "the recipe with spectral normalisation in D"),
    "hinge": (RECIPE, ["model.loss=hinge"], "the recipe with the hinge loss"),
}
BENCH = "bench.json"  # beside each run: how it was trained, how long it took, the machine's load


def train_command(recipe: str, overrides: list[str], run_dir: Path) -> list[str]:
    return ["nlpzoo", "train", recipe, *[a for o in overrides for a in ("--set", o)], "--run-dir", str(run_dir)]


def shown(command: list[str]) -> str:
    return " ".join(shlex.quote(str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c) for c in command)


def train(name: str) -> None:
    """Train one variant (unless it is done), recording wall and CPU time, threads and load in ``bench.json``."""
    recipe, overrides, _ = VARIANTS[name]
    run_dir = OUT / f"dcgan-{name}"
    if (run_dir / "model").exists():
        print(f"{name}: {run_dir} already holds a finished run; measuring it")
        return
    if (run_dir / "recipe.yaml").exists():
        sys.exit(f"{run_dir} holds an unfinished run; remove it to train {name} again in one go")
    command = train_command(recipe, overrides, run_dir)
    threads = os.environ.get("OMP_NUM_THREADS") or str(torch.get_num_threads())
    print(f"{name}: OMP_NUM_THREADS={threads} {shown(command)}", flush=True)
    load_before, cpu_before, started = os.getloadavg(), _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "nlpzoo.cli", *command[1:]], check=True, cwd=ROOT,
                   env={**os.environ, "OMP_NUM_THREADS": threads})
    record = {"command": f"OMP_NUM_THREADS={threads} {shown(command)}", "threads": int(threads),
              "wall_s": time.perf_counter() - started, "cpu_s": _children_cpu() - cpu_before,
              "load_before": load_before, "load_after": os.getloadavg()}
    (run_dir / BENCH).write_text(json.dumps(record, indent=1) + "\n")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="a finished run on mnist-5k (repeatable)")
    parser.add_argument("--only", action="append", default=[], choices=list(VARIANTS), help="variants to train and measure")
    parser.add_argument("--train-only", action="store_true", help="train the variants, measure nothing")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--judge-epochs", type=int, default=6)
    args = parser.parse_args()
    if args.run:
        runs = {Path(r).name: (Path(r), "(given with --run)") for r in args.run}
    else:
        names = args.only or list(VARIANTS)
        for name in names:
            train(name)
        if args.train_only:
            return
        runs = {name: (OUT / f"dcgan-{name}", VARIANTS[name][2]) for name in names}
    handles = {name: nlpzoo.open_run(path) for name, (path, _) in runs.items()}
    measured: dict[str, dict] = {}
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
    lines = ["| images | FD to test digits (lower is better) | confident (>0.9) | class coverage "
             "| training: wall / CPU time, threads, load before / after | command |",
             "| --- | ---: | ---: | ---: | --- | --- |",
             _row("ceiling: real validation digits", ceiling, {}, ""),
             _row(f"floor: untrained generator ({gan.shape[1]}x{gan.shape[2]} dcgan, seed {gan.seed})", floor, {}, "")]
    for name, handle in handles.items():
        path, what = runs[name]
        bench = json.loads((path / BENCH).read_text()) if (path / BENCH).exists() else {}
        r = scores(judge, torch.from_numpy(handle.model.sample(n, seed=99)), reference)
        shown_path = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        lines.append(_row(f"{name}: {what}", r, bench, bench.get("command", f"(run {shown_path})")))
        measured[name] = r
    table = "\n".join(lines)
    targets = (f"Targets: confident at least 0.85, coverage at least 0.95 x the ceiling's "
               f"({0.95 * ceiling['coverage']:.3f}), FD below 150.")
    if measured:
        best_fd = min(measured, key=lambda k: measured[k]["frechet_distance"])
        best_conf = max(measured, key=lambda k: measured[k]["confident"])
        targets += (f" Lowest FD: {best_fd}; most confidently recognised: {best_conf}. A row without training "
                    "figures is a run that was not trained by this script in one go (given with --run, or "
                    "interrupted and resumed from its last checkpoint with `nlpzoo train --resume`): its time is "
                    "not recorded.")
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
        "Training: wall-clock and CPU minutes of the `nlpzoo train` command in the row (CPU time counts every "
        "thread), its torch threads, and the machine's 1-minute load average before and after it (the machine "
        "is shared: a load above its core count slows every run in proportion).\n\n"
        + table + f"\n\n{targets}\n")
    print(f"wrote {out}")


def _row(name: str, r: dict, bench: dict, command: str) -> str:
    timing = ""
    if bench:
        timing = (f"{bench['wall_s'] / 60:.1f} / {bench['cpu_s'] / 60:.1f} min, {bench['threads']}, "
                  f"{bench['load_before'][0]:.1f} / {bench['load_after'][0]:.1f}")
    return (f"| {name} | {r['frechet_distance']:.2f} | {r['confident']:.3f} | {r['coverage']:.3f} | {timing} | "
            + (f"`{command}`" if command else "") + " |")


if __name__ == "__main__":
    main()
