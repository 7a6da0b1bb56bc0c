"""Scores from text on the VADER movie ratings: nlpzoo's bert-regressor against the transformers Trainer set up as
run_glue.py's regression path (``num_labels=1``).

    python benchmarks/regression_vs_trainer.py                                 # 1,000 training snippets, 1 epoch, seed 0
    python benchmarks/regression_vs_trainer.py --train-limit 8485 --epochs 3 --seeds 0 1 2   # the full split

Both sides fine-tune the packaged MiniLM on the same seeded sample of the training split, for the same epochs,
with AdamW at lr 2e-5 decaying linearly to zero without warm-up, batch 8, at most 128 tokens, fp32, no weight
decay (run_glue.py's defaults). The Trainer regresses the raw ratings with mean squared error, as run_glue.py
does; nlpzoo regresses standardised ratings and predicts in the original units. Test Pearson and Spearman on the
test split (or its first --test-limit snippets); training speed is training examples per second of the training
steps alone (nlpzoo's loop times them without its end-of-epoch evaluation on 32 validation snippets).
Writes benchmarks/results/regression_vs_trainer.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import RESULTS, machine, minilm_folder, scratch  # noqa: E402

SETTINGS = {"lr": 2e-5, "batch_size": 8, "max_length": 128}  # run_glue.py's defaults (batch: per device)


def ratings(train_limit: int, seed: int, test_limit: int | None) -> dict:
    import nlpzoo

    data = nlpzoo.build({"name": "vader-ratings", "domain": "movies", "seed": seed, "train_limit": train_limit},
                        "dataset").load()
    test = data["test"] if test_limit is None else data["test"][:test_limit]
    return {"train": data["train"], "validation": data["validation"][:32], "test": test}


def run_nlpzoo(data: dict, seed: int, epochs: int) -> dict:
    import nlpzoo
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "minilm-l6-regressor", "max_length": SETTINGS["max_length"]}, "regressor")
    run = Run.standalone(scratch(), seed=seed, optimizer={"name": "adamw", "lr": SETTINGS["lr"], "weight_decay": 0.0},
                         scheduler={"name": "linear-warmup", "warmup": 0.0},
                         train={"epochs": epochs, "batch_size": SETTINGS["batch_size"], "weight_decay": 0.0,
                                "precision": "fp32", "progress": False, "plots": False, "keep_best": False,
                                "log_every": 1000, "metric": "loss"})
    model.fit(data, run)
    seconds = run.fits[-1].timing["train_seconds"]
    scores = model.evaluate(data["test"])
    return {"pearson": scores["pearson"], "spearman": scores["spearman"], "rmse": scores["rmse"], "seconds": seconds,
            "examples_per_s": len(data["train"]) * epochs / seconds}


def run_trainer(data: dict, seed: int, epochs: int) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, \
        TrainingArguments, set_seed
    from transformers.utils import logging

    from nlpzoo_training import regression_metrics

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)  # run_glue.py: regression

    def encode(examples):
        enc = tokenizer([ex["text"] for ex in examples], truncation=True, max_length=SETTINGS["max_length"])
        return [{"input_ids": ids, "attention_mask": m, "labels": float(ex["target"])}
                for ids, m, ex in zip(enc["input_ids"], enc["attention_mask"], examples)]

    args = TrainingArguments(output_dir=scratch(), per_device_train_batch_size=SETTINGS["batch_size"],
                             per_device_eval_batch_size=2 * SETTINGS["batch_size"], learning_rate=SETTINGS["lr"],
                             num_train_epochs=epochs, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
                             use_cpu=True, seed=seed, eval_strategy="no", save_strategy="no", report_to="none",
                             logging_steps=1000, dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=encode(data["train"]),
                      data_collator=DataCollatorWithPadding(tokenizer))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    pred = trainer.predict(encode(data["test"]))
    scores = regression_metrics([ex["target"] for ex in data["test"]], pred.predictions.reshape(-1).tolist())
    return {"pearson": scores["pearson"], "spearman": scores["spearman"], "rmse": scores["rmse"], "seconds": seconds,
            "examples_per_s": len(data["train"]) * epochs / seconds}


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-limit", type=int, default=1000)
    parser.add_argument("--test-limit", type=int, default=None, help="the first N test snippets (default: all 1,060)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--output", default=str(RESULTS / "regression_vs_trainer.md"))
    args = parser.parse_args()
    rows = {"nlpzoo bert-regressor": [], "transformers Trainer (run_glue.py, num_labels=1)": []}
    for seed in args.seeds:
        data = ratings(args.train_limit, seed, args.test_limit)
        for name, fn in zip(rows, (run_nlpzoo, run_trainer)):
            result = fn(data, seed, args.epochs)
            print(f"seed {seed} {name}: {result}", flush=True)
            rows[name].append(result)
    lines = ["# Scores from text: nlpzoo against the transformers Trainer (run_glue.py regression)", "",
             f"Command: `python benchmarks/{Path(__file__).name} " + " ".join(sys.argv[1:]) + "`", "",
             f"VADER movie-review ratings (-4..4): a seeded sample of {args.train_limit:,} training snippets (the "
             f"sample's seed is the run's seed), {args.epochs} epoch(s), test on {len(data['test']):,} test snippets; "
             f"packaged MiniLM, AdamW lr {SETTINGS['lr']}, linear decay, no warm-up, batch {SETTINGS['batch_size']}, max "
             f"length {SETTINGS['max_length']}, fp32. Seeds {', '.join(map(str, args.seeds))}.", "",
             f"Machine: {machine()}; finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| method | test Pearson | test Spearman | test RMSE | training examples/s | training seconds |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, results in rows.items():
        lines.append(f"| {name} | {spread([r['pearson'] for r in results])} | {spread([r['spearman'] for r in results])} | "
                     f"{spread([r['rmse'] for r in results])} | {spread([r['examples_per_s'] for r in results])} | "
                     f"{spread([r['seconds'] for r in results])} |")
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
