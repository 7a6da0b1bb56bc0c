"""Does nlpzoo's loop compute what the transformers Trainer computes? Same start, same batches, compare weights.

    flock /tmp/nlpzoo-heavy.lock python benchmarks/bert_equivalence.py [--steps 60] [--precisions fp32 bf16]

Both sides start from one saved classifier (the packaged MiniLM with a head drawn under ``--seed``,
dropout set to 0 so that no random numbers are drawn during training), take the same batches in the
same order (nlpzoo's random batches for run seed 0, which the Trainer reads sequentially), and train
``--steps`` optimizer steps with the default recipe's settings: AdamW lr 5e-5, no weight decay, linear
decay, gradient clipping at norm 1, batch 32. There is no warmup here, because the two warmups differ
by one step on purpose: transformers' first step has a learning rate of 0, nlpzoo's ``linear-warmup``
starts at 1/w of the rate and reaches it one step sooner. Then every weight is compared, and both
models label the test split. Equal weights mean that what differs between an nlpzoo run and a Trainer
run with the same seed number is only which random draws each makes (head, batch order, dropout).
Writes benchmarks/results/bert_equivalence.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import (RESULTS, TrainerBaseline, in_nlpzoo_batch_order, machine, minilm_folder,  # noqa: E402
                          rotten_tomatoes, scratch)

BATCH, MAX_LENGTH, LR, WARMUP = 32, 128, 5e-5, 0.0


def start_folder(labels: list[str], seed: int) -> str:
    """The shared starting point: pretrained encoder, a head drawn under ``seed``, no dropout."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_folder(), num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)}, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    folder = scratch()
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)
    return folder


def with_trainer(folder: str, data: dict, precision: str, steps: int):
    base = TrainerBaseline({"train": in_nlpzoo_batch_order(data["train"], BATCH), "test": data["test"]},
                           seed=0, lr=LR, batch_size=BATCH, warmup=WARMUP,
                           bf16=precision == "bf16", max_length=MAX_LENGTH, max_steps=steps, epochs=1,
                           sampling="sequential", model_dir=folder)
    base.trainer.train()
    return base.model


def with_nlpzoo(folder: str, data: dict, precision: str, steps: int):
    import nlpzoo
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "bert-classifier", "pretrained": folder, "max_length": MAX_LENGTH,
                          "sort_by_length": False}, "language_model")
    run = Run.standalone(scratch(), seed=0,
                         train={"batch_size": BATCH, "max_steps": steps, "precision": precision, "epochs": 1,
                                "weight_decay": 0.0, "clip_grad_norm": 1.0, "progress": False, "keep_best": False,
                                "plots": False, "metric": "accuracy", "log_every": 1000, "early_stopping": None},
                         optimizer={"name": "adamw", "lr": LR}, scheduler={"name": "linear-warmup", "warmup": WARMUP})
    model.fit({"train": data["train"], "validation": data["validation"][:8]}, run)
    return model.model


def label_test_split(model, tokenizer, data: dict, labels: list[str]):
    import torch

    from nlpzoo_bert.hf import logits_for, tokenize

    ids = tokenize(tokenizer, [ex["text"] for ex in data["test"]], MAX_LENGTH)
    predicted = logits_for(model, ids, tokenizer.pad_token_id, 64).argmax(-1)
    truth = torch.tensor([labels.index(ex["label"]) for ex in data["test"]])
    return predicted, float((predicted == truth).float().mean())


def compare(folder: str, data: dict, labels: list[str], precision: str, steps: int) -> dict:
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    start = time.perf_counter()
    ours = {k: v.detach().clone() for k, v in with_nlpzoo(folder, data, precision, steps).state_dict().items()}
    trainer_model = with_trainer(folder, data, precision, steps)
    theirs = trainer_model.state_dict()
    first = load_file(str(Path(folder) / "model.safetensors"))  # the saved weights: buffers are not in it
    apart = {k: (ours[k] - theirs[k]).double() for k in first}
    moved = {k: (theirs[k] - first[k]).double() for k in first}
    worst = max(apart, key=lambda k: float(apart[k].abs().max()))
    # the two updates (end minus start) as whole vectors: how far apart, relative to their size
    gap = sum(float((d ** 2).sum()) for d in apart.values()) ** 0.5
    update = sum(float((d ** 2).sum()) for d in moved.values()) ** 0.5
    tokenizer = AutoTokenizer.from_pretrained(folder)
    p_theirs, acc_theirs = label_test_split(trainer_model, tokenizer, data, labels)
    trainer_model.load_state_dict(ours)
    p_ours, acc_ours = label_test_split(trainer_model, tokenizer, data, labels)
    return {"precision": precision, "steps": steps, "max_weight_difference": float(apart[worst].abs().max()),
            "max_weight_change": max(float(d.abs().max()) for d in moved.values()),
            "relative_update_difference": gap / update, "worst_tensor": worst,
            "test_accuracy_nlpzoo": acc_ours, "test_accuracy_trainer": acc_theirs,
            "same_predictions": int((p_ours == p_theirs).sum()), "test_size": len(p_ours),
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="seed of the head drawn for the shared start")
    parser.add_argument("--precisions", nargs="*", default=["fp32", "bf16"])
    args = parser.parse_args()
    from transformers.utils import logging

    logging.set_verbosity_error()
    data = rotten_tomatoes(0)
    labels = sorted({ex["label"] for ex in data["train"]})
    folder = start_folder(labels, args.seed)
    rows = []
    for precision in args.precisions:
        rows.append(compare(folder, data, labels, precision, args.steps))
        print(rows[-1], flush=True)
    write_report(rows, args.seed, args.steps, sys.argv[1:])


def write_report(rows: list[dict], seed: int, steps: int, argv: list[str]) -> None:
    lines = ["# Same start, same batches: nlpzoo's loop against the transformers Trainer", "",
             f"Machine: {machine()}.", "",
             f"Both sides start from one saved classifier (packaged MiniLM, head drawn under seed {seed}, dropout 0), "
             f"read the same batches of 32 Rotten Tomatoes training snippets in the same order, and take {steps} "
             "optimizer steps with AdamW (lr 5e-5, no weight decay), linear decay and clipping at norm 1. There is no warmup, "
             "because the two warmups differ by one step on purpose (transformers' first step has a learning rate of 0; "
             "nlpzoo's starts at 1/w of the rate). The test split (1,275 snippets) is then labelled by both models in fp32. "
             "The relative difference is the distance between the two updates (end minus start, all weights as one vector) "
             "over the length of the Trainer's update.", "",
             "| precision | steps | largest weight change from the start | largest difference nlpzoo - Trainer | "
             "in | relative difference of the updates | test accuracy nlpzoo / Trainer | same test predictions |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['precision']} | {r['steps']} | {r['max_weight_change']:.3g} | {r['max_weight_difference']:.3g} | "
                     f"`{r['worst_tensor']}` | {r['relative_update_difference']:.2g} | "
                     f"{r['test_accuracy_nlpzoo']:.4f} / {r['test_accuracy_trainer']:.4f} | "
                     f"{r['same_predictions']:,} of {r['test_size']:,} |")
    if any(r["worst_tensor"].endswith("key.bias") for r in rows):
        lines += ["", "The attention key biases have a gradient of zero up to rounding (a bias on the keys adds the same "
                  "amount to every score of a query, which softmax ignores), so Adam, which divides by the gradient's "
                  "size, turns rounding noise there into steps of full size: differences in those tensors say nothing "
                  "about the two loops."]
    lines += ["", "Command:", "", "```text", "python " + " ".join(["benchmarks/bert_equivalence.py", *argv]), "```", ""]
    from nlpzoo.files import atomic_write

    atomic_write(RESULTS / "bert_equivalence.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
