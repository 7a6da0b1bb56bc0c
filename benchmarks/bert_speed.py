"""Training and inference throughput of nlpzoo's bert-classifier against transformers used directly.

    flock /tmp/nlpzoo-heavy.lock python benchmarks/bert_speed.py [--steps 20] [--rounds 2] [--texts 10000]

Training: the packaged MiniLM on Rotten Tomatoes training snippets, batch 32, max length 128,
dynamic padding, AdamW (fused), linear decay with warmup, the same for both sides:

* ``trainer-fp32`` / ``trainer-bf16``: the transformers ``Trainer`` (``bf16=True`` for the second),
* ``nlpzoo-fp32`` / ``nlpzoo-bf16``: nlpzoo's shared loop with ``sort_by_length: false`` (random batches; the
  Trainer is handed the same random batches in the same order, so both sides pad and compute alike),
  ``train.precision`` fp32 / bf16,
* ``nlpzoo-default``: the default recipe's settings (its precision, length-sorted batches, and its augmentation
  when it has one: augmenting an epoch's texts happens before its first step, here among the untimed steps).

Each configuration runs in its own process (so peak memory is its own) for ``--warmup`` + ``--steps``
optimizer steps; throughput counts the examples of the timed steps over their wall time. The
configurations alternate over ``--rounds`` rounds, every other round in reverse order, so load from
other processes on the machine hits every side alike; the median over rounds is reported, and each ratio
also round by round (the two sides of a round shared its load). Inference: ``BertClassifier.predict`` (sorted
batches of 64) and the real ``nlpzoo predict`` command against ``transformers.pipeline`` (batch 64)
on the same ``--texts`` texts. Writes benchmarks/results/bert_speed.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import RECIPE, RESULTS, machine, peak_rss_mb, rotten_tomatoes, scratch  # noqa: E402

CONFIGS = ("trainer-fp32", "nlpzoo-fp32", "trainer-bf16", "nlpzoo-bf16", "nlpzoo-default")
BATCH, MAX_LENGTH, LR = 32, 128, 5e-5


def step_times_trainer(precision: str, examples: list, steps: int) -> list[float]:
    from transformers import TrainerCallback

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bert_common import TrainerBaseline, in_nlpzoo_batch_order

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

    # nlpzoo's random batches (seed 0, first epoch) in order: both sides pad and compute the same batches
    base = TrainerBaseline({"train": in_nlpzoo_batch_order(examples, BATCH), "test": examples[:1]}, seed=0, lr=LR,
                           batch_size=BATCH, bf16=precision == "bf16", max_length=MAX_LENGTH, max_steps=steps,
                           epochs=1, sampling="sequential")
    base.trainer.add_callback(Clock())
    times.append(time.perf_counter())
    base.trainer.train()
    return times


def step_times_nlpzoo(precision: str, sort: bool, examples: list, steps: int, model_spec: dict | None = None,
                      train: dict | None = None, augment=None) -> list[float]:
    import nlpzoo
    from nlpzoo import Callback
    from nlpzoo_training import Run

    times: list[float] = []

    class Clock(Callback):
        def on_step(self, run, step, logs):
            times.append(time.perf_counter())

    spec = {**(model_spec or {"name": "minilm-l6"}), "max_length": MAX_LENGTH, "sort_by_length": sort}
    model = nlpzoo.build(spec, "language_model")
    run = Run.standalone(scratch(), seed=0,
                         train={**(train or {}), "batch_size": BATCH, "max_steps": steps, "precision": precision,
                                "progress": False, "keep_best": False, "plots": False, "metric": "accuracy",
                                "log_every": 1000, "epochs": 1, "early_stopping": None},
                         optimizer={"name": "adamw", "lr": LR, "weight_decay": 0.0},
                         scheduler={"name": "linear-warmup", "warmup": 0.06}, augment=augment, callbacks=[Clock()])
    times.append(time.perf_counter())
    model.fit({"train": examples, "validation": examples[:8]}, run)
    return times


def default_settings() -> str:
    """What the default recipe adds to the plain fine-tuning, in words."""
    recipe = yaml.safe_load(RECIPE.read_text())
    model, train = recipe["model"], recipe["train"]
    parts = [train.get("precision", "fp32"), "length-sorted batches"]
    if model.get("layer_decay", 1.0) < 1:
        parts.append(f"layer decay {model['layer_decay']}")
    if train.get("ema"):
        parts.append("weight average")
    if model.get("rdrop"):
        parts.append("R-Drop (two passes per batch)")
    if recipe.get("augment"):
        parts.append("augmentation")
    return " + ".join(parts)


def one(config: str, steps: int, warmup: int) -> dict:
    """Run one configuration in this process; its throughput over the timed steps and peak memory."""
    data = rotten_tomatoes(0)
    examples = data["train"]
    total = warmup + steps
    kind, precision = config.split("-")
    if kind == "trainer":
        times = step_times_trainer(precision, examples, total)
    elif precision == "default":
        recipe = yaml.safe_load(RECIPE.read_text())  # the recipe's own model and loop settings
        times = step_times_nlpzoo(recipe["train"]["precision"], True, examples, total, recipe["model"], recipe["train"],
                                  recipe.get("augment"))
    else:
        times = step_times_nlpzoo(precision, False, examples, total)
    # times[0]: before training; times[i]: end of optimizer step i
    timed = times[warmup:total + 1]
    seconds = timed[-1] - timed[0]
    return {"config": config, "examples_per_s": BATCH * (len(timed) - 1) / seconds, "seconds": seconds,
            "steps": len(timed) - 1, "peak_rss_mb": peak_rss_mb()}


def inference(n: int, rounds: int) -> list[dict]:
    """nlpzoo predict (in process and as the CLI) against transformers.pipeline on the same n texts."""
    import nlpzoo
    import torch
    from transformers import pipeline

    texts = [ex["text"] for ex in rotten_tomatoes(0)["train"]][:n]
    folder = Path(scratch()) / "run"
    model = nlpzoo.build({"name": "minilm-l6", "max_length": MAX_LENGTH}, "language_model")
    torch.manual_seed(0)
    model.prepare(["fresh", "rotten"])
    model.save(str(folder / "model"))
    (folder / "run.json").write_text(json.dumps({"status": "finished", "model": {"kind": "language_model", "name": "bert-classifier", "provider": "bert"}}))
    (folder / "texts.txt").write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n")
    pipe = pipeline("text-classification", model=str(folder / "model"), device=-1)
    rows: dict[str, list[float]] = {"nlpzoo BertClassifier.predict (fp32, sorted batches of 64)": [],
                                    "transformers.pipeline (fp32, batch_size=64)": []}
    for _ in range(rounds):
        start = time.perf_counter()
        model.predict(texts)
        rows["nlpzoo BertClassifier.predict (fp32, sorted batches of 64)"].append(n / (time.perf_counter() - start))
        start = time.perf_counter()
        pipe(texts, batch_size=64, truncation=True, max_length=MAX_LENGTH)
        rows["transformers.pipeline (fp32, batch_size=64)"].append(n / (time.perf_counter() - start))
    cli = "nlpzoo predict RUN --file texts.txt --output out.csv --batch-size 10000 (whole command, start-up included)"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "predict", str(folder), "--file", str(folder / "texts.txt"),
                          "--output", str(folder / "out.csv"), "--batch-size", "10000"], capture_output=True, text=True)
    if out.returncode == 0:
        rows[cli] = [n / (time.perf_counter() - start)]
    else:
        print(out.stderr, file=sys.stderr)
    return [{"what": k, "texts_per_s": statistics.median(v), "runs": len(v)} for k, v in rows.items() if v]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per configuration and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--texts", type=int, default=10000)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(args.one, args.steps, args.warmup)), flush=True)
        return
    results: dict[str, list[dict]] = {c: [] for c in args.configs}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for r in range(args.rounds):
        # every other round in reverse, so that no configuration always runs right after the same one
        for config in (args.configs if r % 2 == 0 else args.configs[::-1]):
            out = subprocess.run([sys.executable, __file__, "--one", config, "--steps", str(args.steps), "--warmup", str(args.warmup)],
                                 capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
            if out.returncode != 0 or not line:
                raise SystemExit(f"{config} failed:\n{out.stderr[-3000:]}")
            res = json.loads(line[0][7:])
            results[config].append(res)
            print(f"round {r}: {config:<15} {res['examples_per_s']:7.1f} ex/s  peak {res['peak_rss_mb']:.0f} MB", flush=True)
    med = {c: statistics.median(x["examples_per_s"] for x in v) for c, v in results.items() if v}
    peak = {c: max(x["peak_rss_mb"] for x in v) for c, v in results.items() if v}
    infer = inference(args.texts, 1) if args.texts else []

    lines = ["# BERT speed: nlpzoo against the transformers Trainer and pipeline", "",
             f"Run {started} with `python benchmarks/bert_speed.py --steps {args.steps} --warmup {args.warmup} "
             f"--rounds {args.rounds} --texts {args.texts}`.", "",
             f"Machine: {machine()}. The 2 cores were shared with other work, so absolute rates vary; the "
             "configurations alternate round by round (every other round in reverse order) and each row is the median over rounds.", "",
             f"Training: packaged MiniLM-L6, Rotten Tomatoes training snippets, batch {BATCH}, max length {MAX_LENGTH}, "
             f"dynamic padding, fused AdamW lr {LR}, linear decay with 6% warmup; {args.steps} timed steps after {args.warmup} untimed. "
             "The Trainer is handed nlpzoo's random batches in nlpzoo's order, so the Trainer rows and nlpzoo's "
             "random-batch rows pad and compute the same batches.", "",
             "| configuration | examples/s (median) | per round | peak RSS (MB) |", "|---|---|---|---|"]
    names = {"trainer-fp32": "transformers Trainer, fp32", "trainer-bf16": "transformers Trainer, bf16=True",
             "nlpzoo-fp32": "nlpzoo, fp32, random batches", "nlpzoo-bf16": "nlpzoo, bf16, random batches",
             "nlpzoo-default": f"nlpzoo default recipe: {default_settings()}"}
    for c in args.configs:
        if c in med:
            rounds = ", ".join(f"{x['examples_per_s']:.1f}" for x in results[c])
            lines.append(f"| {names[c]} | {med[c]:.1f} | {rounds} | {peak[c]:.0f} |")
    # a round's two runs shared that round's load, so the ratio within each round is the number to read
    lines += ["", "| ratio | of the medians | within each round | rounds where the first is faster |", "|---|---|---|---|"]
    for a, b in (("nlpzoo-fp32", "trainer-fp32"), ("nlpzoo-bf16", "trainer-bf16"), ("nlpzoo-default", "trainer-bf16"),
                 ("nlpzoo-default", "trainer-fp32"), ("trainer-bf16", "trainer-fp32")):
        if a in med and b in med:
            paired = [x["examples_per_s"] / y["examples_per_s"] for x, y in zip(results[a], results[b])]
            lines.append(f"| {names[a]} / {names[b]} | {med[a] / med[b]:.2f}x | median {statistics.median(paired):.3f}x "
                         f"({', '.join(f'{r:.3f}' for r in paired)}) | {sum(r > 1 for r in paired)} of {len(paired)} |")
    if infer:
        lines += ["", f"Inference on {args.texts} training snippets (untrained head; speed does not depend on the weights):", "",
                  "| what | texts/s |", "|---|---|"]
        lines += [f"| {r['what']} | {r['texts_per_s']:.1f} |" for r in infer]
    text = "\n".join(lines) + "\n"
    from nlpzoo.files import atomic_write

    atomic_write(RESULTS / "bert_speed.md", text)
    print(text)


if __name__ == "__main__":
    main()
