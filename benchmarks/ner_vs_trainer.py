"""Named entities on CoNLL-2003: nlpzoo's bert-tagger against the transformers Trainer set up as run_ner.py.

    python benchmarks/ner_vs_trainer.py                          # 2,000 training sentences, 1 epoch, seeds 0 1 2
    python benchmarks/ner_vs_trainer.py --train-limit 500 --seeds 0 --test-limit 500   # a quick look

Both sides fine-tune the packaged MiniLM on the same seeded sample of the training split, for the same
epochs, with AdamW at lr 5e-5 decaying linearly to zero without warm-up, batch 8, at most 128 word pieces,
fp32, no weight decay (run_ner.py's defaults; --batch-size changes the batch on both sides). The Trainer side is run_ner.py's
recipe: ``tokenize_and_align_labels`` with ``label_all_tokens=False`` (the first piece of each word
carries its tag, the rest get -100), ``DataCollatorForTokenClassification``, and seqeval on the words
whose first piece survived truncation. Test F1 is seqeval's entity F1 (default mode) on the test split;
training speed is training examples per second of the training steps alone (nlpzoo's loop times them without
its end-of-epoch evaluation on 32 validation sentences; the Trainer evaluates nothing while training).
Writes benchmarks/results/ner_vs_trainer.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import RESULTS, machine, minilm_folder, scratch  # noqa: E402

SETTINGS = {"lr": 5e-5, "batch_size": 8, "max_length": 128, "sort_by_length": True}  # run_ner.py's defaults (batch: per device)


def conll(train_limit: int, seed: int, test_limit: int | None) -> dict:
    import nlpzoo

    data = nlpzoo.build({"name": "conll2003", "seed": seed, "train_limit": train_limit}, "dataset").load()
    test = data["test"] if test_limit is None else data["test"][:test_limit]
    # the loop scores a validation split after each epoch: a small one, outside the training time measured
    return {"train": data["train"], "validation": data["validation"][:32], "test": test}


def run_nlpzoo(data: dict, seed: int, epochs: int) -> dict:
    import nlpzoo
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "minilm-l6-tagger", "max_length": SETTINGS["max_length"],
                          "sort_by_length": SETTINGS["sort_by_length"]}, "tagger")
    run = Run.standalone(scratch(), seed=seed, optimizer={"name": "adamw", "lr": SETTINGS["lr"], "weight_decay": 0.0},
                         scheduler={"name": "linear-warmup", "warmup": 0.0},
                         train={"epochs": epochs, "batch_size": SETTINGS["batch_size"], "weight_decay": 0.0,
                                "precision": "fp32", "progress": False, "plots": False, "keep_best": False,
                                "log_every": 1000, "metric": "loss"})
    model.fit(data, run)
    seconds = run.fits[-1].timing["train_seconds"]  # the training steps alone, as the Trainer's train() below
    scores = model.evaluate(data["test"])
    return {"f1": scores["f1"], "strict_f1": scores["strict_f1"], "seconds": seconds,
            "examples_per_s": len(data["train"]) * epochs / seconds}


def run_trainer(data: dict, seed: int, epochs: int) -> dict:
    import numpy as np
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments, set_seed)
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    folder = minilm_folder()
    labels = sorted({t for ex in data["train"] for t in ex["tags"]} | {"O"})
    index = {l: i for i, l in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    set_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(folder, num_labels=len(labels),
                                                            id2label=dict(enumerate(labels)), label2id=index)

    def tokenize_and_align_labels(examples):  # run_ner.py, label_all_tokens=False
        enc = tokenizer([ex["tokens"] for ex in examples], truncation=True, max_length=SETTINGS["max_length"],
                        is_split_into_words=True)
        rows = []
        for i, ex in enumerate(examples):
            previous, label_ids = None, []
            for word in enc.word_ids(i):
                label_ids.append(-100 if word is None or word == previous else index[ex["tags"][word]])
                previous = word
            rows.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": label_ids})
        return rows

    args = TrainingArguments(output_dir=scratch(), per_device_train_batch_size=SETTINGS["batch_size"],
                             per_device_eval_batch_size=2 * SETTINGS["batch_size"], learning_rate=SETTINGS["lr"],
                             num_train_epochs=epochs, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
                             use_cpu=True, seed=seed, eval_strategy="no", save_strategy="no", report_to="none",
                             logging_steps=1000, dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=tokenize_and_align_labels(data["train"]),
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    pred = trainer.predict(tokenize_and_align_labels(data["test"]))
    predicted, true = [], []
    for row, gold in zip(np.argmax(pred.predictions, axis=-1), pred.label_ids):  # run_ner.py's compute_metrics
        predicted.append([labels[p] for p, g in zip(row, gold) if g != -100])
        true.append([labels[g] for g in gold if g != -100])
    return {"f1": float(f1_score(true, predicted)), "strict_f1": float(f1_score(true, predicted, mode="strict", scheme=IOB2)),
            "seconds": seconds, "examples_per_s": len(data["train"]) * epochs / seconds}


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-limit", type=int, default=2000)
    parser.add_argument("--test-limit", type=int, default=None, help="the first N test sentences (default: all 3,453)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    parser.add_argument("--unsorted", action="store_true", help="nlpzoo draws random batches, as the Trainer does")
    parser.add_argument("--output", default=str(RESULTS / "ner_vs_trainer.md"))
    args = parser.parse_args()
    SETTINGS["batch_size"], SETTINGS["sort_by_length"] = args.batch_size, not args.unsorted
    rows = {"nlpzoo bert-tagger": [], "transformers Trainer (run_ner.py)": []}
    for seed in args.seeds:
        data = conll(args.train_limit, seed, args.test_limit)
        for name, fn in zip(rows, (run_nlpzoo, run_trainer)):  # one after the other, the same data
            result = fn(data, seed, args.epochs)
            print(f"seed {seed} {name}: {result}", flush=True)
            rows[name].append(result)
    lines = ["# Named entities: nlpzoo against the transformers Trainer (run_ner.py)", "",
             f"Command: `python benchmarks/{Path(__file__).name} " + " ".join(sys.argv[1:]) + "`", "",
             f"CoNLL-2003 English: a seeded sample of {args.train_limit:,} training sentences (the sample's seed is the "
             f"run's seed), {args.epochs} epoch(s), test on {len(data['test']):,} test sentences; packaged MiniLM "
             f"(all-MiniLM-L6-v2), AdamW lr {SETTINGS['lr']}, linear decay, no warm-up, batch {SETTINGS['batch_size']}, "
             f"max length {SETTINGS['max_length']}, fp32. Seeds {', '.join(map(str, args.seeds))}; mean ± standard "
             "deviation over seeds.", "",
             f"Machine: {machine()}; finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| method | test entity F1 | strict F1 | training examples/s | training seconds |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, results in rows.items():
        lines.append(f"| {name} | {spread([r['f1'] for r in results])} | {spread([r['strict_f1'] for r in results])} | "
                     f"{spread([r['examples_per_s'] for r in results])} | {spread([r['seconds'] for r in results])} |")
    lines += ["", "Per seed:", "", "| seed | method | F1 | strict F1 | examples/s |", "| ---: | --- | ---: | ---: | ---: |"]
    for name, results in rows.items():
        lines += [f"| {seed} | {name} | {r['f1']:.4f} | {r['strict_f1']:.4f} | {r['examples_per_s']:.1f} |"
                  for seed, r in zip(args.seeds, results)]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
