"""``nlpzoo train``: a recipe in, a run directory out.

The directory holds ``recipe.yaml`` (every spec pinned to its provider), ``provenance.json``,
``run.json``, ``metrics.jsonl``, ``metrics.json``, ``plots/``, ``checkpoints/`` and ``model/``.
Under torchrun every process trains; only the first writes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ConfigError
from ..report import finish_run, write_card
from ..runs import RunLock, model_digest
from ..yamlio import atomic_write
from .run import AugmentPipeline, Run, derive_seed, seed_everything, train_config

#: recipe keys that must not change when a run is resumed
FIXED_ON_RESUME = ("seed", "dataset", "model", "augment", "optimizer", "scheduler")
RUN_FILES = ("recipe.yaml", "run.json", "checkpoints", "model")


def augment_examples(examples: list, augmenter, seed: int, copies: int) -> list:
    """The examples followed by ``copies`` augmented copies of each (``train.augment_mode: offline``)."""
    texts = []
    for i, ex in enumerate(examples):
        if not (isinstance(ex, dict) and isinstance(ex.get("text"), str)):
            raise ConfigError(f"offline augmentation needs text examples; example {i} is {type(ex).__name__}", "augment")
        texts.append(ex["text"])
    out = list(examples)
    for c in range(copies):
        new = augmenter.augment(texts, seed=derive_seed(seed, "offline", c))
        out += [{**ex, "text": t} for ex, t in zip(examples, new)]
    return out


def _check_run_dir(run_dir: Path, resume: bool, recipe) -> None:
    if not resume:
        taken = [name for name in RUN_FILES if (run_dir / name).exists()]
        if taken:
            raise ConfigError(f"{run_dir} already holds a run ({', '.join(taken)}); continue it with --resume "
                              "or choose another --run-dir", "--run-dir")
        return
    saved_path = run_dir / "recipe.yaml"
    if not saved_path.exists():
        raise ConfigError(f"{run_dir} holds no run to resume (no recipe.yaml); drop --resume to start one", "--resume")
    saved = _saved_recipe(run_dir)
    now = json.loads(json.dumps(recipe.resolved_dict()))
    changed = [k for k in FIXED_ON_RESUME if saved.get(k) != now.get(k)]
    if changed:
        raise ConfigError(f"the recipe differs from the one {run_dir} was started with in: {', '.join(changed)}; "
                          "resume with the original recipe (only train settings may change)", "--resume")


def _saved_recipe(run_dir: Path) -> dict:
    from ..runs import MAX_RUN_FILE
    from ..yamlio import parse_yaml, read_bounded

    path = run_dir / "recipe.yaml"
    data = parse_yaml(read_bounded(path, MAX_RUN_FILE, "recipe", inside=run_dir).decode("utf-8", "replace"), str(path))
    return data if isinstance(data, dict) else {}


def _save_model_atomically(model, target: Path) -> None:
    """Save into a temporary folder, then rename: a crash never leaves half a model behind."""
    import shutil

    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def held_out_scores(model, data: dict, run: Run) -> dict[str, float]:
    """The test metrics; for classifiers also the confusion matrices of validation and test, printed and drawn."""
    from ..kinds import Classifier, classification_scores

    if not (isinstance(model, Classifier) and type(model).evaluate is Classifier.evaluate):
        return model.evaluate(data["test"])
    test = {}
    for split in ("validation", "test"):
        if not data.get(split):
            continue
        scores, cm = classification_scores(model, data[split])
        if split == "test":
            test = scores
        if run.is_main:
            from ..plots import format_confusion, plot_confusion

            print(format_confusion(cm, model.labels, f"{split}, accuracy {scores['accuracy']:.4f}"))
            plot_confusion(cm, model.labels, run.dir / f"confusion_{split}.png",
                           title=f"{split}: accuracy {scores['accuracy']:.3f} on {int(cm.sum())} examples")
    return test


def _describe(resolved) -> dict:
    return {"kind": resolved.kind, "name": resolved.name, "provider": resolved.provider, "target": resolved.target}


def train_recipe(recipe, run_dir, resume: bool = False, callbacks=()) -> dict[str, float]:
    """Build, train (``model.fit(data, run)``), test and save the run ``recipe`` describes."""
    run_dir = Path(run_dir)
    specs = recipe.specs
    if "dataset" not in specs:
        raise ConfigError("training needs a 'dataset' in the recipe", "dataset")
    config = train_config(recipe.train)
    run = Run(run_dir, seed=recipe.seed, config=config, resume=resume)
    # one writer per run folder, for the whole run: a second training or a --resume beside this one is refused
    lock = RunLock(run_dir).acquire() if run.is_main else None
    try:
        return _train(recipe, run_dir, run, config, resume, list(callbacks))
    finally:
        if lock is not None:
            lock.release(remove_empty_dir=True)  # a folder made for a run that failed to start goes again


def _train(recipe, run_dir: Path, run: Run, config, resume: bool, callbacks: list) -> dict[str, float]:
    import yaml

    from .provenance import provenance

    specs = recipe.specs
    _check_run_dir(run_dir, resume, recipe)  # in every process, before the first one writes
    run.barrier()
    started = time.time()
    seed_everything(recipe.seed)
    dataset = recipe.build("dataset")
    run.optimizer = recipe.build("optimizer") if "optimizer" in specs else None
    run.scheduler = recipe.build("scheduler") if "scheduler" in specs else None
    augment = specs.get("augment")
    if augment is not None:
        augmenters = recipe.build("augment")
        augmenters = augmenters if isinstance(augmenters, list) else [augmenters]
        run.augmenter = augmenters[0] if len(augmenters) == 1 else AugmentPipeline(augmenters)
    run.callbacks = (recipe.build("callbacks") if "callbacks" in specs else []) + callbacks
    data = dataset.load()  # before anything is written: a bad data file leaves no half-made run behind
    if run.augmenter is not None and config.augment_mode == "offline":
        data = {**data, "train": augment_examples(list(data["train"]), run.augmenter, recipe.seed, config.augment_copies)}
    seed_everything(recipe.seed)  # the model's initial weights do not depend on how the data was read
    model = recipe.build("model")
    # the run directory is written only once everything is built: a bad recipe leaves nothing behind
    info = {"status": "running", "model": _describe(specs["model"]), "dataset": _describe(specs["dataset"]),
            "seed": recipe.seed, "world_size": run.world_size, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if run.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            atomic_write(run_dir / "recipe.yaml", yaml.safe_dump(recipe.resolved_dict(), sort_keys=False, allow_unicode=True))
        atomic_write(run_dir / "run.json", json.dumps(info, indent=1))
        record = provenance(recipe.seed, dataset.files(), run.world_size)
        record["dataset"] = dataset.describe()  # how the data was split and read: sizes, split seed, encodings
        if resume and (run_dir / "provenance.json").exists():
            from ..runs import read_run_json

            record["resumed_from"] = read_run_json(run_dir, "provenance.json")
        atomic_write(run_dir / "provenance.json", json.dumps(record, indent=1))
    metrics = dict(model.fit(data, run) or {})
    run.metrics.finish()
    if run._accelerator is not None:  # a torch model: where it trained, how fast, the memory it took
        info.update(device=str(run.device), **run.training_time)
        metrics.update(run.peak_memory)
    if data.get("test"):
        try:
            test = held_out_scores(model, data, run) or {}
        except NotImplementedError:  # a model without held-out metrics still trains and saves
            test = {}
        metrics.update({f"test_{k}": float(v) for k, v in test.items()})
    if run.is_main:
        _save_model_atomically(model, run_dir / "model")
        write_card(run_dir, model, data, model_spec=specs["model"], metrics=metrics)  # a classifier's README.md
        info["model_sha256"] = model_digest(run_dir / "model")  # checked whenever the run's model is loaded
        atomic_write(run_dir / "metrics.json", json.dumps(metrics, indent=1))
        info.update(status="finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                    seconds=round(time.time() - started, 3), metrics=metrics)
        atomic_write(run_dir / "run.json", json.dumps(info, indent=1))
        finish_run(run_dir, model, data, model_spec=specs["model"], metrics=metrics)  # samples, report.html
    run.barrier()
    return metrics
