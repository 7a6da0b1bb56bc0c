"""SeqGAN against its own maximum-likelihood generator on Rotten Tomatoes, measured the way "Language GANs
Falling Short" (Caccia et al., 2018) asks: quality and diversity together, across sampling temperatures.

Part 1 (quality-diversity). ``recipes/seqgan-rotten-tomatoes.yaml`` is trained (or ``--run`` names a
finished run of it): its generator, pretrained by maximum likelihood (kept in the run as
``pretrained-generator/``), then trained adversarially (``model/``). Each generator writes
``--samples`` sentences at each temperature of ``--temperatures`` (labels alternating, as the
model's ``sample`` does). Quality: BLEU-4 of the sentences against the dataset's held-out test
snippets (1,275), diversity: self-BLEU-4 among the sentences (both as NLTK's ``sentence_bleu``
with method-1 smoothing, averaged), fluency: perplexity of the sentences under a separately trained
language model (a ``transformer-lm`` trained on the training snippets, without labels). The real
validation snippets are scored the same way for reference. Writes the table and one PNG with both
quality-diversity curves.

Part 2 (training data from a GAN). As ``benchmarks/eda_effect.py`` does for EDA: for each seed, 500
training snippets drawn with the seed; a conditional SeqGAN (the recipe's settings, scaled to 500
snippets by ``--aug-*``) is trained on those 500 only; the LSTM classifier is trained on the 500 alone,
on the 500 plus ``--copies`` generated snippets per real one from the maximum-likelihood generator,
and plus as many from the SeqGAN generator (labels as the real snippets'), with eda_effect's budget
(at most 960 steps of 32, validation accuracy every 16 steps, best checkpoint, patience 16). Test
accuracy on the dataset's 1,275 test snippets.

    OMP_NUM_THREADS=1 python benchmarks/textgan.py [--part quality|augment|all] [--run RUN]

Writes ``benchmarks/results/textgan.md`` and ``benchmarks/results/textgan.png``; runs go to
``benchmarks/out/textgan/``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RECIPE = ROOT.parent / "recipes" / "seqgan-rotten-tomatoes.yaml"
TEMPERATURES = (0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4)
JUDGE = {"name": "transformer-lm", "tokenizer": "word", "vocab_size": 20000, "min_frequency": 2, "d_model": 128,
         "num_layers": 3, "num_heads": 4, "block_size": 64, "dropout": 0.2}
JUDGE_TRAIN = {"epochs": 6, "batch_size": 32, "metric": "perplexity", "precision": "bf16", "progress": False,
               "plots": False, "log_every": 50}
CLASSIFIER = {"name": "lstm-classifier", "embedding_dim": 128, "hidden_size": 128}  # as in eda_effect.py


def load_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def train_recipe_dict(recipe: dict, run_dir: Path) -> dict:
    from nlpzoo_training import train_recipe

    shutil.rmtree(run_dir, ignore_errors=True)
    return train_recipe(recipe, run_dir)


# ---------------------------------------------------------------- part 1


def judge_model(data: dict, out: Path, seed: int, epochs: int):
    """A language model trained apart from the generators, on the training snippets without labels."""
    import nlpzoo
    from nlpzoo_training import Run

    run = Run.standalone(out / "judge", seed=seed, train={**JUDGE_TRAIN, "epochs": epochs}, optimizer={"name": "adamw", "lr": 2e-3, "weight_decay": 0.1},
                         scheduler={"name": "cosine-warmup", "warmup": 0.05})
    judge = nlpzoo.build(JUDGE, "language_model")
    judge.fit({k: [{"text": ex["text"]} for ex in v] for k, v in data.items()}, run)
    return judge


def score(texts: list[str], references, judge) -> dict[str, float]:
    from nlpzoo_textgan.bleu import self_bleu

    lengths = [len(t.split()) for t in texts]
    return {"bleu4": references.bleu(texts), "self_bleu4": self_bleu(texts),
            "judge_perplexity": judge.evaluate([{"text": t} for t in texts])["perplexity"],
            "mean_words": statistics.mean(lengths) if lengths else 0.0,
            "distinct": len(set(texts)) / max(1, len(texts))}


def quality(args, out: Path) -> tuple[list[str], dict]:
    import nlpzoo
    from nlpzoo_textgan.bleu import ReferenceSet

    recipe = load_yaml(RECIPE)
    t0, c0 = time.time(), time.process_time()
    run_dir = Path(args.run) if args.run else out / "seqgan"
    if not args.run:
        train_recipe_dict(recipe, run_dir)
    trained_s, trained_cpu = time.time() - t0, time.process_time() - c0
    handle = nlpzoo.open_run(run_dir)
    gan = handle.model
    mle = type(gan).load(run_dir / "model")  # the same model, its generator replaced by the pretrained one
    mle.lm = type(gan.lm).load(str(run_dir / "pretrained-generator"))
    data = nlpzoo.build(handle.recipe["dataset"], "dataset").load()
    references = ReferenceSet([ex["text"] for ex in data["test"]])
    c0 = time.process_time()
    judge = judge_model(data, out, seed=args.seed, epochs=args.judge_epochs)
    judge_s = time.process_time() - c0
    real = [ex["text"] for ex in data["validation"]][: args.samples]  # as many as generated: self-BLEU grows with the count
    rows = {"real": {1.0: score(real, references, judge)}}
    for name, model in (("MLE", mle), ("SeqGAN", gan)):
        rows[name] = {}
        for temperature in args.temperatures:
            texts = model.sample(args.samples, seed=args.seed, temperature=temperature)
            rows[name][temperature] = score(texts, references, judge)
            r = rows[name][temperature]
            print(f"{name:6s} T={temperature:.2f}: BLEU-4 {r['bleu4']:.4f}, self-BLEU-4 {r['self_bleu4']:.4f}, "
                  f"judge perplexity {r['judge_perplexity']:.1f}, {r['mean_words']:.1f} words", flush=True)
    examples = {name: model.sample_examples(6, seed=args.seed + 1, temperature=1.0) for name, model in (("MLE", mle), ("SeqGAN", gan))}
    plot(rows, Path(args.output).with_suffix(".png"))

    metrics = handle.metrics
    judge_real = rows["real"][1.0]
    lines = [
        "## Quality and diversity across temperatures",
        "",
        f"Generators: `{RECIPE.relative_to(ROOT.parent)}` "
        + (f"trained here in {trained_s:.0f} s ({trained_cpu:.0f} s of CPU)" if not args.run else f"(run `{args.run}`, {handle.info.get('seconds', float('nan')):.0f} s)")
        + f"; its maximum-likelihood generator (`pretrained-generator/`, validation perplexity of the labelled snippets "
        f"{_pretrain_perplexity(run_dir):.1f}) and the same generator after adversarial training (validation perplexity "
        f"{metrics.get('val_perplexity', float('nan')):.1f}, discriminator accuracy {metrics.get('val_d_accuracy', float('nan')):.3f}). "
        f"{args.samples} sentences per generator and temperature (seed {args.seed}). BLEU-4 against the 1,275 held-out test "
        f"snippets; self-BLEU-4 among the {args.samples} sentences; judge perplexity under a `transformer-lm` "
        f"({JUDGE['num_layers']} layers, d_model {JUDGE['d_model']}, {args.judge_epochs} epochs) trained on the training snippets only, "
        f"in {judge_s:.0f} s of CPU (its perplexity on the real validation snippets: {judge_real['judge_perplexity']:.1f}).",
        "",
        "| generator | temperature | BLEU-4 (quality, higher is better) | self-BLEU-4 (lower is more diverse) | judge perplexity | words per sentence | distinct sentences |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| real validation snippets (first {len(real)}) | | {judge_real['bleu4']:.4f} | {judge_real['self_bleu4']:.4f} | "
        f"{judge_real['judge_perplexity']:.1f} | {judge_real['mean_words']:.1f} | {judge_real['distinct']:.3f} |",
    ]
    for name in ("MLE", "SeqGAN"):
        for temperature, r in rows[name].items():
            lines.append(f"| {name} | {temperature:.2f} | {r['bleu4']:.4f} | {r['self_bleu4']:.4f} | "
                         f"{r['judge_perplexity']:.1f} | {r['mean_words']:.1f} | {r['distinct']:.3f} |")
    lines += ["", f"![quality against diversity]({Path(args.output).with_suffix('.png').name})", "", verdict(rows), "", "Samples at temperature 1.0:", ""]
    for name, exs in examples.items():
        lines += [f"- {name}: " + " / ".join(f"[{ex['label']}] {ex['text']}" for ex in exs)]
    return lines, rows


def _pretrain_perplexity(run_dir: Path) -> float:
    try:
        records = [json.loads(line) for line in (run_dir / "pretrain-generator" / "metrics.jsonl").read_text().splitlines()]
    except OSError:
        return float("nan")
    values = [r["val_perplexity"] for r in records if "val_perplexity" in r]
    return min(values) if values else float("nan")


def verdict(rows: dict) -> str:
    """Where the SeqGAN curve lies against the MLE curve: BLEU at equal self-BLEU (MLE interpolated)."""
    import numpy as np

    mle = sorted((r["self_bleu4"], r["bleu4"]) for r in rows["MLE"].values())
    xs, ys = np.array([m[0] for m in mle]), np.array([m[1] for m in mle])
    better = worse = outside = 0
    gaps = []
    for r in rows["SeqGAN"].values():
        if not xs.min() <= r["self_bleu4"] <= xs.max():
            outside += 1
            continue
        gap = r["bleu4"] - float(np.interp(r["self_bleu4"], xs, ys))
        gaps.append(gap)
        better, worse = better + (gap > 0), worse + (gap <= 0)
    text = (f"At equal diversity (MLE's BLEU-4 interpolated at each SeqGAN point's self-BLEU-4), SeqGAN's BLEU-4 is "
            f"higher at {better} and lower or equal at {worse} of the {better + worse} SeqGAN temperatures inside the MLE "
            f"curve's range ({outside} outside it)")
    if gaps:
        text += f"; mean difference {statistics.mean(gaps):+.4f} BLEU-4."
    return text + " Temperature alone moves the MLE generator along the same trade-off."


def plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nlpzoo_training import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    for name, style in (("MLE", "o-"), ("SeqGAN", "s-")):
        points = sorted(rows[name].items())
        xs, ys = [r["self_bleu4"] for _, r in points], [r["bleu4"] for _, r in points]
        ax.plot(xs, ys, style, label=f"{name} generator", linewidth=1.2, markersize=4)
        for t, r in points:
            ax.annotate(f"{t:g}", (r["self_bleu4"], r["bleu4"]), textcoords="offset points", xytext=(3, 3), fontsize=7)
    real = rows["real"][1.0]
    ax.plot([real["self_bleu4"]], [real["bleu4"]], "k*", markersize=10, label="real validation snippets")
    ax.set_xlabel("self-BLEU-4 among samples (lower: more diverse)")
    ax.set_ylabel("BLEU-4 against held-out snippets (higher: closer to real)")
    ax.set_title("Rotten Tomatoes: quality against diversity by temperature")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)


# ---------------------------------------------------------------- part 2


def scaled_recipe(args, seed: int) -> dict:
    """The recipe's SeqGAN trained on ``train_limit`` snippets of the seed, with a budget for that size."""
    recipe = load_yaml(RECIPE)
    model = dict(recipe["model"])
    model["pretrain"] = {**model.get("pretrain", {}), "epochs": args.aug_pretrain_epochs}
    model["discriminator_steps"] = args.aug_discriminator_steps
    return {"seed": seed, "dataset": {"name": "rotten-tomatoes", "seed": seed, "train_limit": args.train_size},
            "model": model, "train": {**recipe["train"], "max_steps": args.aug_steps, "eval_every": args.aug_steps,
                                      "progress": False, "plots": False}}


def classifier_accuracy(train: list[dict], data: dict, seed: int, run_dir: Path, args) -> float:
    import nlpzoo
    from nlpzoo_training import Run

    shutil.rmtree(run_dir, ignore_errors=True)
    run = Run.standalone(run_dir, seed=seed, optimizer={"name": "adamw", "lr": 2.0e-3, "weight_decay": 0.01},
                         train={"epochs": 1000, "max_steps": 960, "batch_size": 32, "metric": "accuracy", "eval_every": 16,
                                "early_stopping": 16, "progress": False, "plots": False})
    model = nlpzoo.build(CLASSIFIER, "classifier")
    model.fit({"train": train, "validation": data["validation"], "test": data["test"]}, run)
    return model.evaluate(data["test"])["accuracy"]


def augmentation(args, out: Path) -> list[str]:
    import nlpzoo

    conditions = ("none", "MLE", "SeqGAN")
    results = {c: [] for c in conditions}
    rows, samples = [], {}
    for seed in args.seeds:
        recipe = scaled_recipe(args, seed)
        run_dir = out / f"aug-seqgan-seed{seed}"
        c0 = time.process_time()
        train_recipe_dict(recipe, run_dir)
        gan_s = time.process_time() - c0
        gan = nlpzoo.open_run(run_dir).model
        mle = type(gan).load(run_dir / "model")
        mle.lm = type(gan.lm).load(str(run_dir / "pretrained-generator"))
        data = nlpzoo.build(recipe["dataset"], "dataset").load()
        real = [{"text": ex["text"], "label": ex["label"]} for ex in data["train"]]
        labels = [ex["label"] for ex in real] * args.copies
        row = [seed]
        for name in conditions:
            train = list(real)
            if name != "none":
                generator = mle if name == "MLE" else gan
                generated = generator.sample_examples(len(labels), seed=seed, labels=labels, temperature=args.aug_temperature)
                samples.setdefault(name, generated[:4])
                train += generated
            t0 = time.time()
            acc = classifier_accuracy(train, data, seed, out / f"aug-{name.lower()}-seed{seed}", args)
            results[name].append(acc)
            row.append(acc)
            print(f"seed {seed} {name:6s}: {len(train)} training snippets, test accuracy {acc:.4f} ({time.time() - t0:.0f} s; "
                  f"GAN trained in {gan_s:.0f} s of CPU)", flush=True)
        rows.append(row)

    def mean_sd(xs):
        return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}" if len(xs) > 1 else f"{xs[0]:.4f}"

    lines = [
        "## Training data from a GAN: the LSTM classifier on 500 snippets",
        "",
        f"Per seed ({', '.join(map(str, args.seeds))}): `rotten-tomatoes` with `train_limit: {args.train_size}` (the same draw as "
        f"`benchmarks/eda_effect.py`), a conditional SeqGAN with the recipe's settings trained on those {args.train_size} "
        f"snippets only (generator pretraining {args.aug_pretrain_epochs} epochs, discriminator {args.aug_discriminator_steps} "
        f"steps, {args.aug_steps} adversarial steps), then `lstm-classifier` (embedding 128, biLSTM 128; AdamW 2e-3, "
        "batch 32, at most 960 steps, validation accuracy every 16 steps, best checkpoint, patience 16, as in eda_effect) "
        f"on the {args.train_size} real snippets alone or with {args.copies} generated snippets per real one, each with the "
        f"real one's label, sampled at temperature {args.aug_temperature}. Test accuracy on the 1,275 test snippets:",
        "",
        "| seed | real only | + MLE-generated | + SeqGAN-generated | SeqGAN − real only |",
        "|---|---:|---:|---:|---:|",
    ]
    for seed, a, b, c in rows:
        lines.append(f"| {seed} | {a:.4f} | {b:.4f} | {c:.4f} | {c - a:+.4f} |")
    diffs = [c - a for _, a, _, c in rows]
    lines.append(f"| mean ± sd | {mean_sd(results['none'])} | {mean_sd(results['MLE'])} | {mean_sd(results['SeqGAN'])} | "
                 f"{statistics.mean(diffs):+.4f} |")
    wins = sum(d > 0 for d in diffs)
    lines += ["", f"SeqGAN data raised test accuracy in {wins} of {len(diffs)} seeds ({statistics.mean(diffs):+.4f} on average); "
              f"EDA on the same 500 snippets: 0.6220 against 0.6222 without (benchmarks/results/eda_effect.md).", "",
              "Generated training snippets (first of each kind, seed " f"{args.seeds[0]}):", ""]
    for name, exs in samples.items():
        lines += [f"- {name}: " + " / ".join(f"[{ex['label']}] {ex['text']}" for ex in exs)]
    return lines


def conditions(args, part: str, started: float) -> list[str]:
    """The command that made a section, and how long it took on what."""
    import torch

    if part == "quality":
        options = [*(["--run", args.run] if args.run else []), f"--samples {args.samples}",
                   f"--judge-epochs {args.judge_epochs}", "--temperatures " + " ".join(f"{t:g}" for t in args.temperatures),
                   f"--seed {args.seed}"]
    else:
        options = ["--seeds " + " ".join(map(str, args.seeds)), f"--train-size {args.train_size}", f"--copies {args.copies}",
                   f"--aug-temperature {args.aug_temperature:g}", f"--aug-pretrain-epochs {args.aug_pretrain_epochs}",
                   f"--aug-discriminator-steps {args.aug_discriminator_steps}", f"--aug-steps {args.aug_steps}"]
    command = " ".join(["OMP_NUM_THREADS=1 python benchmarks/textgan.py", f"--part {part}", *options, f"--threads {args.threads}"])
    return [f"Command: `{command}`  ",
            f"({time.time() - started:.0f} s on {os.cpu_count()} CPU cores shared with other work, torch "
            f"{torch.__version__} with {args.threads} thread(s), Python {platform.python_version()}, load average "
            f"{os.getloadavg()[0]:.1f} at the end.)", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run of recipes/seqgan-rotten-tomatoes.yaml (default: train one)")
    parser.add_argument("--part", choices=["quality", "augment", "all"], default="all")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-epochs", type=int, default=JUDGE_TRAIN["epochs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--copies", type=int, default=4, help="generated snippets per real one")
    parser.add_argument("--aug-temperature", type=float, default=1.0)
    parser.add_argument("--aug-pretrain-epochs", type=int, default=20)
    parser.add_argument("--aug-discriminator-steps", type=int, default=50)
    parser.add_argument("--aug-steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", default=str(ROOT / "out" / "textgan"))
    parser.add_argument("--output", default=str(ROOT / "results" / "textgan.md"))
    args = parser.parse_args()

    import torch

    from nlpzoo.files import atomic_write

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    if args.part in ("quality", "all"):
        started = time.time()
        lines = quality(args, out)[0]
        sections += lines[:2] + conditions(args, "quality", started) + lines[2:] + [""]
    if args.part in ("augment", "all"):
        started = time.time()
        lines = augmentation(args, out)
        sections += lines[:2] + conditions(args, "augment", started) + lines[2:] + [""]
    header = ["# Text GANs measured: SeqGAN against maximum likelihood on Rotten Tomatoes", ""]
    path = Path(args.output)
    if args.part != "all" and path.exists():  # keep the other part's section
        old = path.read_text(encoding="utf-8")
        keep = "## Training data from a GAN" if args.part == "quality" else "## Quality and diversity"
        if keep in old:
            other = old[old.index(keep):]
            end = other.find("\n## ", 1)
            other = other if end < 0 else other[:end]
            sections = sections + other.rstrip().splitlines() + [""] if args.part == "quality" else other.rstrip().splitlines() + [""] + sections
    atomic_write(path, "\n".join(header + sections).rstrip() + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
