"""``nlpzoo train``: a recipe in, a run directory out.

The directory holds ``recipe.yaml`` (every spec pinned to its provider), ``provenance.json``,
``run.json``, ``metrics.jsonl``, ``metrics.json``, ``plots/``, ``checkpoints/`` and ``model/``.
Under torchrun every process trains; only the first writes.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from nlpzoo import ConfigError, NlpzooError, SequentialAugmenter
from nlpzoo.errors import PLACE_NOTE, located
from nlpzoo.files import atomic_write
from nlpzoo.plugins import get_manager
from nlpzoo.runs import model_digest

from .lock import RunLock, refuse_symlinks
from .config import TrainConfig
from .run import Run, derive_seed, seed_everything, train_config

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
    pairs = [ex.get("text_pair") for ex in examples]
    paired = [i for i, p in enumerate(pairs) if isinstance(p, str)]  # sentence pairs: both texts are augmented
    out = list(examples)
    for c in range(copies):
        new = augmenter.augment(texts + [pairs[i] for i in paired], seed=derive_seed(seed, "offline", c))
        copies_of = [{**ex, "text": t} for ex, t in zip(examples, new)]
        for i, t in zip(paired, new[len(texts):]):
            copies_of[i]["text_pair"] = t
        out += copies_of
    return out


def _check_run_dir(run_dir: Path, resume: bool, recipe) -> None:
    refuse_symlinks(run_dir)  # every path written below stays inside the run folder
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
    from nlpzoo.files import read_bounded
    from nlpzoo.runs import MAX_RUN_FILE
    from nlpzoo.yamlio import parse_yaml

    path = run_dir / "recipe.yaml"
    data = parse_yaml(read_bounded(path, MAX_RUN_FILE, "recipe", inside=run_dir).decode("utf-8", "replace"), str(path))
    return data if isinstance(data, dict) else {}


def _save_model_atomically(model, target: Path) -> None:
    """Save into a temporary folder, then rename: a crash never leaves half a model behind."""
    import shutil

    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.is_symlink():  # never save into a folder a symlink leads to
        tmp.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(str(tmp))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def held_out_scores(model, data: dict, run: Run) -> tuple[dict[str, float], list]:
    """The test metrics, and the pictures to draw once the model is saved (``draw_pictures``): for classifiers
    and taggers the confusion matrices of validation and test, also printed (a tagger's: the entity type of
    each word); for regressors predicted against true."""
    from nlpzoo import Classifier, Regressor, Tagger
    from nlpzoo.kinds import classification_scores

    if isinstance(model, Tagger):
        return tagger_scores(model, data, run)
    if isinstance(model, Regressor):
        return regressor_scores(model, data, run)
    if not (isinstance(model, Classifier) and type(model).evaluate is Classifier.evaluate):
        return model.evaluate(data["test"]), []
    test, pictures = {}, []
    for split in ("validation", "test"):
        if not data.get(split):
            continue
        scores, cm = classification_scores(model, data[split])
        if split == "test":
            test = scores
        if run.is_main:
            from nlpzoo.text import printable

            from .plots import format_confusion, plot_confusion

            print(printable(format_confusion(cm, model.labels, f"{split}, accuracy {scores['accuracy']:.4f}")))
            title = f"{split}: accuracy {scores['accuracy']:.3f} on {sum(map(sum, cm))} examples"
            pictures.append((f"confusion_{split}.png",
                             lambda path, cm=cm, title=title: plot_confusion(cm, model.labels, path, title=title)))
    return test, pictures


def draw_pictures(run_dir: Path, pictures: list) -> list[str]:
    """Draw each ``(file name, draw(path))``; a picture that cannot be drawn is a warning, never a lost run."""
    from .plots import quiet_plots

    warnings = []
    for name, draw in pictures:
        path = run_dir / name
        try:
            with quiet_plots() as heard:
                draw(path)
            warnings += [f"{name}: {message}" for message in heard]
        except Exception as exc:  # noqa: BLE001 - the model is saved already; a picture is not worth the run
            warnings.append(f"{name} not drawn: {type(exc).__name__}: {str(exc).strip()[:200]}")
    for warning in warnings:
        from nlpzoo.text import printable

        print(f"nlpzoo: warning: {printable(warning)}", file=sys.stderr)
    return warnings


def _check_pairs_are_read(model, spec, data: dict) -> None:
    """Sentence pairs for a model that reads one text would silently lose every second text."""
    if getattr(model, "reads_pairs", False):
        return
    for split, examples in data.items():
        if any(isinstance(ex, dict) and ex.get("text_pair") is not None for ex in examples):
            raise ConfigError(f"{spec.name} reads one text per example, and the {split} split holds sentence pairs "
                              "(text_pair); use a model that reads pairs, such as bert-classifier or bert-regressor",
                              "model")


def _check_two_labels(train) -> None:
    """A classifier learns to tell labels apart: data with one label would train a model that is always right."""
    from collections.abc import Sequence

    if not isinstance(train, Sequence) or not train:
        return  # a stream is checked by the model as it reads
    labels = {ex.get("label") for ex in train if isinstance(ex, dict)}
    if len(labels) == 1:
        from nlpzoo.files import one_line

        raise ConfigError(f"the training data holds only one label ({one_line(str(next(iter(labels))))[:60]!r}); a "
                          "classifier needs examples of at least two", "dataset")


def tagger_scores(model, data: dict, run: Run) -> tuple[dict[str, float], list]:
    from .metrics import entity_type_confusion
    from nlpzoo.text import printable

    from .plots import format_confusion, plot_confusion

    test, pictures = model.evaluate(data["test"]), []
    for split in ("validation", "test"):
        if not data.get(split) or not run.is_main:
            continue
        examples = data[split]
        types, cm = entity_type_confusion([ex["tags"] for ex in examples], model.tag([ex["tokens"] for ex in examples]))
        print(printable(format_confusion(cm, types, f"{split}, entity type of each word")))
        title = f"{split}: entity type of each of {sum(map(sum, cm))} words"
        pictures.append((f"confusion_{split}.png",
                         lambda path, cm=cm, types=types, title=title: plot_confusion(cm, types, path, title=title)))
    return test, pictures


def regressor_scores(model, data: dict, run: Run) -> tuple[dict[str, float], list]:
    from nlpzoo.kinds import model_input

    from .plots import plot_scatter

    examples = data["test"]
    predicted = [float(v) for v in model.predict_values([model_input(ex) for ex in examples])]
    test = model.evaluate(examples)
    if not run.is_main:
        return test, []
    true = [float(ex.get("target", ex.get("label"))) for ex in examples]
    title = f"test: Pearson {test['pearson']:.3f}, Spearman {test['spearman']:.3f}, RMSE {test['rmse']:.3f}"
    return test, [("predicted_vs_true_test.png", lambda path: plot_scatter(true, predicted, path, title=title))]


def _describe(resolved) -> dict:
    return {"kind": resolved.kind, "name": resolved.name, "provider": resolved.provider, "target": resolved.target}


def recipe_config(recipe) -> TrainConfig:
    """The recipe's ``train:`` settings, checked when the recipe was read; checked again only if changed since."""
    config = recipe.settings.get("train")
    return config if config is not None and config == TrainConfig(**recipe.train) else train_config(recipe.train)


def train_recipe(recipe, run_dir, resume: bool = False, callbacks=()) -> dict[str, float]:
    """Build, train (``model.fit(data, run)``), test and save the run ``recipe`` describes."""
    run_dir = Path(run_dir)
    specs = recipe.specs
    if "dataset" not in specs:
        raise ConfigError("training needs a 'dataset' in the recipe", "dataset")
    config = recipe_config(recipe)
    run = Run(run_dir, seed=recipe.seed, config=config, resume=resume)
    # one writer per run folder, for the whole run: a second training or a --resume beside this one is refused
    lock = RunLock(run_dir).acquire() if run.is_main else None
    try:
        return _train(recipe, run_dir, run, config, resume, list(callbacks))
    except BaseException as exc:
        if run.is_main:
            _record_end(run_dir, run, exc)
        raise
    finally:
        if lock is not None:
            lock.release(remove_empty_dir=True)  # a folder made for a run that failed to start goes again


def _record_end(run_dir: Path, run: Run, exc: BaseException) -> None:
    """A run that ends without finishing says so in run.json: ``failed`` or ``interrupted``, the error and the step."""
    path = run_dir / "run.json"
    if not path.is_file() or path.is_symlink():
        return  # it failed before it wrote anything: nothing claims it is running
    from nlpzoo.runs import read_run_json

    try:
        info = read_run_json(run_dir, "run.json")
    except (NlpzooError, OSError, ValueError):
        return
    if not isinstance(info, dict) or info.get("status") != "running":
        return
    interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    info.update(status="interrupted" if interrupted else "failed", ended=time.strftime("%Y-%m-%dT%H:%M:%S"),
                step=run.step, error=f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    where = located(exc)
    if where:
        info["where"] = where
    try:
        atomic_write(path, json.dumps(info, indent=1), inside=run_dir)
    except OSError:  # a full disk: the error itself still reaches the user
        pass


@contextlib.contextmanager
def _noting(phase, specs: dict, default: str):
    """Errors from plugin code (not nlpzoo's own, which say where already) get a note naming the component
    whose code raised, the phase (``phase()`` at the time of the error) and the plugin's file and line."""
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, NlpzooError) and not located(exc):
            exc.add_note(PLACE_NOTE + _place(exc, specs, default, phase()))
        raise


def _place(exc: BaseException, specs: dict, default: str, phase: str) -> str:
    frame = _plugin_frame(exc.__traceback__)
    resolved = [s for spec in specs.values() for s in (spec if isinstance(spec, list) else [spec])
                if getattr(s, "target", None)]
    owner = None
    if frame is not None:  # the component whose method raised, else the one from the same package
        classes = {f"{c.__module__}:{c.__qualname__}" for c in type(frame[3]).__mro__} if frame[3] is not None else set()
        owner = (next((s for s in resolved if s.target in classes), None)
                 or next((s for s in resolved if s.target.split(".")[0].split(":")[0] == frame[0]), None))
    owner = owner or (specs.get(default) if not isinstance(specs.get(default), list) else None)
    who = f"{owner.kind} {owner.name} (provider {owner.provider}), " if owner is not None else ""
    return who + phase + (f", at {frame[1]}:{frame[2]}" if frame else "")


# code that is not a plugin's: nlpzoo's core and the libraries plugins call into
_NOT_PLUGIN_CODE = ("nlpzoo", "torch", "transformers", "accelerate", "numpy", "gensim", "safetensors", "tokenizers",
                    "click", "pluggy", "yaml", "contextlib", "functools", "importlib", "abc", "typing")


def _plugin_frame(tb) -> tuple | None:
    """The deepest frame of plugin code: (its top-level package, its file, its line, its ``self`` or None)."""
    found = None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "") or ""
        top = module.split(".")[0]
        if top and top not in _NOT_PLUGIN_CODE and top != "__main__":
            found = (top, tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_locals.get("self"))
        tb = tb.tb_next
    return found


def _train(recipe, run_dir: Path, run: Run, config, resume: bool, callbacks: list) -> dict[str, float]:
    import yaml

    from .provenance import base_model, data_licenses, provenance

    specs = recipe.specs
    _check_run_dir(run_dir, resume, recipe)  # in every process, before the first one writes
    run.barrier()
    started = time.time()
    seed_everything(recipe.seed)

    def built(key: str):
        with _noting(lambda: "building it", specs, key):
            return recipe.build(key)

    dataset = built("dataset")
    run.optimizer = built("optimizer") if "optimizer" in specs else None
    run.scheduler = built("scheduler") if "scheduler" in specs else None
    augment = specs.get("augment")
    if augment is not None:
        augmenters = built("augment")
        augmenters = augmenters if isinstance(augmenters, list) else [augmenters]
        run.augmenter = augmenters[0] if len(augmenters) == 1 else SequentialAugmenter(augmenters)
    run.callbacks = (built("callbacks") if "callbacks" in specs else []) + callbacks
    with _noting(lambda: "loading the data", specs, "dataset"):
        data = dataset.load()  # before anything is written: a bad data file leaves no half-made run behind
    if specs["model"].kind == "classifier":
        _check_two_labels(data.get("train"))
    if run.augmenter is not None and config.augment_mode == "offline":
        data = {**data, "train": augment_examples(list(data["train"]), run.augmenter, recipe.seed, config.augment_copies)}
    seed_everything(recipe.seed)  # the model's initial weights do not depend on how the data was read
    model = built("model")
    _check_pairs_are_read(model, specs["model"], data)
    # the run directory is written only once everything is built: a bad recipe leaves nothing behind
    info = {"status": "running", "model": _describe(specs["model"]), "dataset": _describe(specs["dataset"]),
            "seed": recipe.seed, "world_size": run.world_size, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if run.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            atomic_write(run_dir / "recipe.yaml", yaml.safe_dump(recipe.resolved_dict(), sort_keys=False, allow_unicode=True),
                         inside=run_dir)
        atomic_write(run_dir / "run.json", json.dumps(info, indent=1), inside=run_dir)
        record = provenance(recipe.seed, dataset.files(), run.world_size)
        record["dataset"] = dataset.describe()  # how the data was split and read: sizes, split seed, encodings
        record["base_model"] = base_model(specs["model"])  # the pretrained weights it starts from, their licence
        record["data_licenses"] = data_licenses(record["data"])
        if resume and (run_dir / "provenance.json").exists():
            from nlpzoo.runs import read_run_json

            record["resumed_from"] = read_run_json(run_dir, "provenance.json")
        atomic_write(run_dir / "provenance.json", json.dumps(record, indent=1), inside=run_dir)
    with _noting(lambda: run.phase, specs, "model"):
        metrics = dict(model.fit(data, run) or {})
    run.metrics.finish()
    if run.fits:  # a torch model: where it trained, how fast, the memory it took
        last = run.fits[-1]
        info.update(device=last.device, precision=last.precision, **last.timing)
        metrics.update(last.peak_memory)
    pictures = []
    if data.get("test"):
        try:
            with _noting(lambda: "evaluation on the test split", specs, "model"):
                test, pictures = held_out_scores(model, data, run)
        except NotImplementedError:  # a model without held-out metrics still trains and saves
            test = {}
        metrics.update({f"test_{k}": float(v) for k, v in (test or {}).items()})
    if run.is_main:
        # the model first: nothing drawn or written after it can lose it
        with _noting(lambda: "saving the model", specs, "model"):
            _save_model_atomically(model, run_dir / "model")
        get_manager().model_saved(run_dir, model, data, metrics)  # a model card joins model/ before its sha256
        info["model_sha256"] = model_digest(run_dir / "model")  # checked whenever the run's model is loaded
        atomic_write(run_dir / "metrics.json", json.dumps(metrics, indent=1), inside=run_dir)
        warnings = draw_pictures(run_dir, pictures)
        info.update(status="finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                    seconds=round(time.time() - started, 3), metrics=metrics)
        if run.missing_metrics:
            info["missing_metrics"] = dict(run.missing_metrics)
        if warnings:
            info["warnings"] = warnings
        atomic_write(run_dir / "run.json", json.dumps(info, indent=1), inside=run_dir)
        get_manager().run_finished(run_dir, model, data, metrics)  # plugins add to the run: report.html
    run.barrier()
    return metrics
