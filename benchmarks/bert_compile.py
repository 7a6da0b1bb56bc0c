"""Does ``torch.compile`` speed up BERT fine-tuning on this CPU? Eager against compiled, same batches.

    python benchmarks/bert_compile.py [--steps 30]

One training step (forward under bf16 autocast, backward, fused AdamW) of the packaged MiniLM on
length-sorted batches of 32 Rotten Tomatoes training snippets, as the default recipe makes them, so
the compiled model sees many sequence lengths (``dynamic=True``). Each mode runs in its own process;
the first steps of the compiled model include compilation, reported apart from the steady steps.
Writes results/bert_compile.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import RESULTS, machine, minilm_folder, rotten_tomatoes  # noqa: E402

WARM = 5  # steps counted as start-up (compilation) rather than steady state


def run(mode: str, steps: int) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlpzoo_training import length_bucketed_batches
    from nlpzoo_bert.hf import collate, tokenize

    data = rotten_tomatoes(0)["train"]
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    ids = tokenize(tokenizer, [ex["text"] for ex in data], 128)
    labels = [int(ex["label"] == "rotten") for ex in data]
    batches = length_bucketed_batches([len(x) for x in ids], 32, 0, sort_by_length=True)[:WARM + steps]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_folder(), num_labels=2)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)
    step_model = torch.compile(model, dynamic=True) if mode == "compiled" else model
    times = []
    for b in batches:
        batch = collate([ids[i] for i in b], tokenizer.pad_token_id, [labels[i] for i in b])
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(
                step_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float(),
                batch["labels"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return {"mode": mode, "startup_s": sum(times[:WARM]), "steady_step_s": sum(times[WARM:]) / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steady steps timed after the first 5")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run(args.one, args.steps)), flush=True)
        return
    rows = {}
    for mode in ("eager", "compiled"):
        out = subprocess.run([sys.executable, __file__, "--one", mode, "--steps", str(args.steps)],
                             capture_output=True, text=True)
        line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
        if out.returncode != 0 or not line:
            raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
        rows[mode] = json.loads(line[0][7:])
        print(rows[mode], flush=True)
    eager, compiled = rows["eager"], rows["compiled"]
    lines = ["# BERT fine-tuning step: eager against torch.compile", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python benchmarks/bert_compile.py --steps {args.steps}`.", "",
             f"Machine: {machine()}.", "",
             f"Packaged MiniLM, length-sorted batches of 32 Rotten Tomatoes snippets (the default recipe's), bf16 autocast, "
             f"fused AdamW; {WARM} start-up steps, then {args.steps} timed steps.", "",
             "| mode | first 5 steps (s) | steady step (s) |", "|---|---|---|",
             f"| eager | {eager['startup_s']:.1f} | {eager['steady_step_s']:.3f} |",
             f"| torch.compile(dynamic=True) | {compiled['startup_s']:.1f} | {compiled['steady_step_s']:.3f} |", "",
             f"Steady step, compiled / eager: {compiled['steady_step_s'] / eager['steady_step_s']:.2f}x the time. "
             + ("Compiling does not pay here, so the training loop stays eager."
                if compiled["steady_step_s"] >= eager["steady_step_s"] else
                "Compiled steps are faster once compiled; compare the start-up cost with a run's length.")]
    text = "\n".join(lines) + "\n"
    from nlpzoo.files import atomic_write

    atomic_write(RESULTS / "bert_compile.md", text)
    print(text)


if __name__ == "__main__":
    main()
