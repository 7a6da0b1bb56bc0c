"""A candidate for the BERT recipe: masked-language modelling on the training texts before fine-tuning.

    python benchmarks/within_task_mlm.py --out /tmp/minilm-rt-mlm [--epochs 2] [--lr 1e-4]
    nlpzoo train recipes/bert-rotten-tomatoes.yaml --set model.name=bert-classifier \\
        --set model.pretrained=/tmp/minilm-rt-mlm --set seed=0

Continues pretraining the packaged MiniLM with transformers' ``BertForMaskedLM`` (15% of tokens
masked, a new prediction head) on the Rotten Tomatoes training snippets only (validation and test
texts are never seen), then saves the encoder with its original pooler as a local Hugging Face
folder that ``bert-classifier`` fine-tunes like any other. Length-sorted batches of 32, bf16
autocast, AdamW with linear decay after 6% warmup. The outcome is in results/bert_tuning.md.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import minilm_folder, rotten_tomatoes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write the adapted encoder to")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer, BertForMaskedLM, DataCollatorForLanguageModeling

    source = minilm_folder()
    texts = [ex["text"] for ex in rotten_tomatoes(0)["train"]]
    tokenizer = AutoTokenizer.from_pretrained(source)
    ids = [tokenizer(t, truncation=True, max_length=128)["input_ids"] for t in texts]
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    mlm = BertForMaskedLM.from_pretrained(source)
    masker = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [order[i:i + 32] for i in range(0, len(order), 32)]
    steps = args.epochs * len(batches)
    no_decay = [n.endswith("bias") or "LayerNorm" in n for n, _ in mlm.named_parameters()]
    params = [p for _, p in mlm.named_parameters()]
    optimizer = torch.optim.AdamW([
        {"params": [p for p, nd in zip(params, no_decay) if not nd], "weight_decay": 0.01},
        {"params": [p for p, nd in zip(params, no_decay) if nd], "weight_decay": 0.0}], lr=args.lr, fused=True)
    warmup = int(0.06 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    mlm.train()
    start = time.perf_counter()
    for epoch in range(args.epochs):
        rng.shuffle(batches)
        total = 0.0
        for batch in batches:
            inputs = masker([{"input_ids": ids[i]} for i in batch])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = mlm(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item()
        print(f"epoch {epoch + 1}: masked-token loss {total / len(batches):.3f}", flush=True)
    encoder = AutoModel.from_pretrained(source)  # keeps the pretrained pooler, which BertForMaskedLM lacks
    missing = encoder.load_state_dict(mlm.bert.state_dict(), strict=False).missing_keys
    assert all(k.startswith("pooler.") for k in missing), missing
    encoder.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
