"""How good are the digits? The trained ``dcgan-mnist`` recipe against held-out real digits (the ceiling)
and the same generator untrained (the floor), measured by an independent judge.

    python benchmarks/dcgan_quality.py [--run RUN_DIR] [--samples 500]

Without ``--run`` it first trains ``recipes/dcgan-mnist.yaml`` into ``benchmarks/out/dcgan-mnist``
(``nlpzoo train``; about 10 minutes on 2 cores). The judge is a small CNN trained here on the
recipe's training split (not the one the model used to pick its checkpoint). For each row it
reports, on ``--samples`` images:

- ``FD``: Fréchet distance between the judge's 64-d features of the images and of the real test
  digits (lower is better);
- ``confident``: share of images the judge classifies with probability above 0.9;
- ``coverage``: entropy of the judge's predicted-class histogram over log 10 (1 = every digit equally).

Ceiling: the real validation digits. Floor: the recipe's generator before training (same seed).
Writes benchmarks/results/dcgan_quality.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from nlpzoo.runs import open_run
from nlpzoo_dcgan.quality import scores, to_unit, train_judge

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "dcgan-mnist.yaml"
JUDGE_SEED = 1234


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run of recipes/dcgan-mnist.yaml (default: train one now)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--judge-epochs", type=int, default=6)
    args = parser.parse_args()
    run_dir = Path(args.run) if args.run else ROOT / "benchmarks" / "out" / "dcgan-mnist"
    if not args.run:
        if (run_dir / "model").exists():
            sys.exit(f"{run_dir} already holds a run; pass --run {run_dir} to measure it or remove it to train again")
        started = time.time()
        subprocess.run([sys.executable, "-m", "nlpzoo.cli", "train", str(RECIPE), "--run-dir", str(run_dir)], check=True)
        print(f"trained in {time.time() - started:.0f} s")
    handle = open_run(run_dir)
    gan = handle.model
    data = handle.dataset().load()
    train, val, test = data["train"], data["validation"], data["test"]
    n = min(args.samples, len(val), len(test))

    judge = train_judge(train.images, train.labels, train.num_classes, epochs=args.judge_epochs, seed=JUDGE_SEED)
    reference = to_unit(test.images[:n])
    judge_acc = scores(judge, to_unit(test.images), reference, labels=test.labels)["accuracy"]

    untrained = type(gan)(latent=gan.latent, g_width=gan.g_width, d_width=gan.d_width, init=gan.init,
                          conditional=gan.conditional, quality=False)
    untrained.build(gan.shape, gan.classes, seed=gan.seed)
    rows = {
        "ceiling: real validation digits": scores(judge, to_unit(val.images[:n]), reference),
        "floor: untrained generator": scores(judge, torch.from_numpy(untrained.sample(n, seed=99)), reference),
        "ours: trained dcgan": scores(judge, torch.from_numpy(gan.sample(n, seed=99)), reference),
    }
    ceil, floor, ours = rows.values()
    closed = (floor["frechet_distance"] - ours["frechet_distance"]) / (floor["frechet_distance"] - ceil["frechet_distance"])
    lines = ["| images | FD to test digits (lower is better) | confident (>0.9) | class coverage |",
             "| --- | ---: | ---: | ---: |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['frechet_distance']:.2f} | {r['confident']:.3f} | {r['coverage']:.3f} |")
    table = "\n".join(lines)
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    seconds = info.get("seconds")
    grid = run_dir / "samples" / "final.png"
    summary = (f"The trained generator closes {closed:.1%} of the Fréchet-distance gap between the untrained "
               f"generator and real digits. Judge accuracy on the {len(test)} test digits: {judge_acc:.3f}.")
    print(table)
    print(summary)
    if seconds:
        print(f"training time: {seconds:.0f} s")
    print(f"sample grid: {grid}")
    threads = os.environ.get("OMP_NUM_THREADS")
    cmd = (f"OMP_NUM_THREADS={threads} " if threads else "") + "python benchmarks/dcgan_quality.py" + (f" --run {args.run}" if args.run else "") + \
        (f" --samples {args.samples}" if args.samples != 500 else "")
    out = ROOT / "benchmarks" / "results" / "dcgan_quality.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        "# DCGAN quality on real MNIST digits\n\n"
        f"`{cmd}` on {platform.machine()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads), torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Run: `{run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir}`"
        + (f", trained in {seconds:.0f} s" if seconds else "") + ".\n\n"
        f"Judge: a small CNN trained on the {len(train)} training digits ({args.judge_epochs} epochs, seed {JUDGE_SEED}); "
        f"its 64-d features give the Fréchet distance to {n} real test digits. Each row scores {n} images; "
        "generated ones come from `sample(n, seed=99)`.\n\n" + table + f"\n\n{summary}\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
