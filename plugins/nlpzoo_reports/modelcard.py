"""The model card of a trained classifier: ``model/README.md`` with the Hugging Face metadata block.

The card is what a model hub shows and indexes: licence, base model, data set, metrics (also as a
``model-index`` of results), pipeline tag and tags in the YAML front matter; then, for a person, what
the model does, how it was trained (the resolved recipe), how well it does, how to use it and where
not to. Everything comes from the run folder (the base model and the licences from ``provenance.json``), so the
saved folder can be published as it is. Written on the ``model_saved`` hook, before the model folder's
sha256 is recorded, so the card is part of what loading verifies.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

CARD = "README.md"
#: nlpzoo's metrics as hub metric types: (type, readable name, args)
HUB_METRICS = {"accuracy": ("accuracy", "accuracy", None), "macro_f1": ("f1", "macro F1", {"average": "macro"}),
               "loss": ("loss", "cross-entropy loss", None), "f1": ("f1", "entity F1", None),
               "precision": ("precision", "entity precision", None), "recall": ("recall", "entity recall", None),
               "micro_f1": ("f1", "micro F1", {"average": "micro"}),
               "subset_accuracy": ("accuracy", "subset accuracy", None),
               "pearson": ("pearsonr", "Pearson correlation", None), "spearman": ("spearmanr", "Spearman correlation", None)}
#: the Hugging Face task of each kind of model that gets a card: (pipeline tag, readable name, example input)
HUB_TASKS = {"classifier": ("text-classification", "Text Classification", "a gorgeous, witty, seductive movie"),
             "tagger": ("token-classification", "Token Classification", "Angela Merkel met Emmanuel Macron in Paris"),
             "regressor": ("text-classification", "Text Regression", "a gorgeous, witty, seductive movie"),
             "multilabel_classifier": ("text-classification", "Multi-label Text Classification",
                                       "the new powerbook has a faster scsi bus and more ram")}


def write_model_card(run_dir: str | Path, model, metrics: dict | None = None, data: dict | None = None) -> Path | None:
    """Write ``RUN/model/README.md`` when ``model`` is a classifier or a tagger; its path (None for other models)."""
    from nlpzoo.files import atomic_write

    if getattr(model, "kind", None) not in HUB_TASKS:
        return None
    target = Path(run_dir) / "model" / CARD
    atomic_write(target, render_model_card(Path(run_dir), model, dict(metrics or {}), data or {}))
    return target


def render_model_card(run_dir: Path, model, metrics: dict, data: dict) -> str:
    import yaml

    from nlpzoo.runs import read_run_text

    info = _read_json(run_dir, "run.json")
    provenance = _read_json(run_dir, "provenance.json")
    recipe = read_run_text(run_dir, "recipe.yaml", "recipe") or ""
    model_info, dataset_info = info.get("model") or {}, info.get("dataset") or {}
    base = provenance.get("base_model") if isinstance(provenance.get("base_model"), dict) else None
    dataset = dataset_info.get("name", "unknown")
    labels = [str(label) for label in getattr(model, "labels", [])]
    shown = ", ".join(md_code(label) for label in labels)
    transformers_folder = "model_type" in _read_json(run_dir, "model/config.json")
    data_licenses = [str(x) for x in provenance.get("data_licenses") or [] if isinstance(x, str)]
    task, task_name, example = HUB_TASKS[model.kind]
    tagger, regressor = model.kind == "tagger", model.kind == "regressor"
    several = model.kind == "multilabel_classifier"
    types = sorted({label[2:] for label in labels if label[:2] in ("B-", "I-")})
    shown_types = ", ".join(md_code(t) for t in types)

    meta: dict = {"license": str(base.get("license") or "other") if base else "other"}
    if not base:
        meta["license_name"] = "unspecified"
    if base and base.get("id"):
        meta["base_model"] = base["id"]
    meta["datasets"] = [dataset]
    meta["metrics"] = sorted({HUB_METRICS[k[5:]][0] for k in metrics if k.startswith("test_") and k[5:] in HUB_METRICS
                              and k[5:] != "loss"})
    meta["pipeline_tag"] = task
    meta["library_name"] = "transformers" if transformers_folder else "nlpzoo"
    meta["tags"] = ["nlpzoo", task, model_info.get("name", model.kind)]
    results = _results(metrics, dataset, task, task_name)
    if results:
        meta["model-index"] = [{"name": run_dir.resolve().name, "results": results}]
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)

    name = run_dir.resolve().name
    sizes = ", ".join(f"{len(data[s]):,} {s}" for s in ("train", "validation", "test") if data.get(s))
    what = ("A regressor that predicts a number for a text (one output, in the units of its training targets)."
            if regressor else f"A tagger that finds entities of {len(types)} types ({shown_types}) in a text, "
            f"word by word (IOB2 tags)." if tagger else
            f"A multi-label text classifier that gives a text any of {len(labels)} labels ({shown}), each from its own "
            "sigmoid score and threshold (`label_thresholds` in config.json)." if several else
            f"A text classifier that assigns one of {len(labels)} labels ({shown}) to a text.")
    lines = [f"# {name}", "",
             f"{what} Trained with nlpzoo "
             f"(`{model_info.get('name', '?')}` from the `{model_info.get('provider', '?')}` plugin) on the "
             f"`{dataset}` data set" + (f" ({sizes} examples)." if sizes else "."), ""]
    lines += ["## Base model", ""]
    if base:
        where = f"[{base['id']}](https://huggingface.co/{base['id']})" if base.get("id") else f"`{base.get('source')}`"
        lines += [f"Fine-tuned from {where} (nlpzoo preset `{base['preset']}`, licence {base.get('license')})." if base.get("preset")
                  else f"Fine-tuned from {where}.", ""]
    else:
        lines += ["None: trained from scratch. No licence was chosen for these weights; choose one before "
                  "publishing them" + (f" (the training data's licence: {', '.join(data_licenses)})." if data_licenses else "."), ""]
    lines += ["## Data set", "", f"`{dataset}` (`{dataset_info.get('target', '?')}`), split and sampled by the "
              f"recipe's seed {info.get('seed', '?')}."]
    if data_licenses:
        lines += [f"Data licence: {', '.join(data_licenses)}."]
    files = [d for d in provenance.get("data") or [] if "sha256" in d]
    if files:
        lines += ["", "| file | bytes | sha256 |", "| --- | ---: | --- |"]
        lines += [f"| `{Path(d['path']).name}` | {d['size']:,} | `{d['sha256']}` |" for d in files]
    lines += ["", "## Metrics", ""]
    if metrics:
        lines += ["| metric | value |", "| --- | ---: |"]
        lines += [f"| {md_text(k)} | {v:.4f} |" for k, v in sorted(metrics.items(), key=_metric_order)
                  if isinstance(v, (int, float))]
        lines += ["", "`test_` metrics are measured once, on the held-out test split; `val_` metrics on the "
                  "validation split, by which the training run was judged."]
    else:
        lines += ["None recorded."]
    lines += ["", "## Intended use", ""]
    if regressor:
        lines += [f"Scoring texts like those of `{dataset}`. The model has only seen those texts and that range of "
                  "scores: expect larger errors on other domains, styles or languages, and measure them on your own "
                  "sample before relying on it. Not for decisions about people without human review.", ""]
    elif tagger:
        lines += [f"Finding {shown_types} entities in texts like those of `{dataset}`. The model has "
                  "only seen those texts: expect lower F1 on other domains, styles or languages, and measure it on your own "
                  "annotated sample before relying on it. It knows no other entity types.", ""]
    elif several:
        lines += [f"Tagging texts like those of `{dataset}` with {shown}. The model has only seen those texts and the "
                  "label combinations in them: expect lower F1 on other domains, styles or languages, and measure it on "
                  "your own labelled sample before relying on it. Not for decisions about people without human review.", ""]
    else:
        lines += [f"Sorting texts like those of `{dataset}` into {shown}. The model has only "
                  "seen those texts: expect lower accuracy on other domains, styles or languages, and measure it on your "
                  "own labelled sample before relying on it. It knows no other labels: every text gets one of these, "
                  "however unlike the training data it is. Not for decisions about people without human review.", ""]
    lines += ["## How to use", ""]
    if transformers_folder:
        lines += ["```python", "from transformers import pipeline", "",
                  (f'find = pipeline("{task}", model="path/to/this/folder", aggregation_strategy="simple")' if tagger else
                   f'score = pipeline("{task}", model="path/to/this/folder", function_to_apply="none")' if regressor else
                   f'classify = pipeline("{task}", model="path/to/this/folder", top_k=None)  # every label\'s sigmoid'
                   if several else
                   f'classify = pipeline("{task}", model="path/to/this/folder")'),
                  f'print({"find" if tagger else "score" if regressor else "classify"}("{example}"))', "```", ""]
    module, _, cls = str(model_info.get("target", "module:Class")).partition(":")
    lines += [f"With nlpzoo and its `{model_info.get('provider', '?')}` plugin installed:", "", "```python", f"from {module} import {cls}", "",
              f'model = {cls}.load("path/to/this/folder")', f'print(model.predict(["{example}"]))',
              "```", "", f"or, from the run directory: `nlpzoo predict RUN \"{example}\"`.", ""]
    lines += ["## Training", "", "The resolved recipe (every component pinned to the plugin that provided it):", "",
              fence(recipe) + "yaml", recipe.rstrip(), fence(recipe), ""]
    versions = provenance.get("libraries") or {}
    if provenance:
        lines += [f"nlpzoo {provenance.get('nlpzoo', '?')}, Python {provenance.get('python', '?')}"
                  + "".join(f", {k} {v}" for k, v in sorted(versions.items()) if k in ("torch", "transformers", "tokenizers"))
                  + (f"; trained in {info['seconds']:.0f} s" if isinstance(info.get("seconds"), (int, float)) else "")
                  + (f" on {info['device']}" if isinstance(info.get("device"), str) else "") + ".", ""]
    return f"---\n{front}---\n\n" + "\n".join(lines)


def md_text(value) -> str:
    """``value`` as literal Markdown text on one line: no markup, no HTML, no table cell boundary.

    Label names and metric names come from the data (``a|b``, ``<img ...>``, a newline): each character
    Markdown or HTML would act on is escaped, and newlines are shown as ``\\n``.
    """
    from nlpzoo.files import one_line

    text = html.escape(one_line(str(value)), quote=False)
    return re.sub(r"([\\`*\[\]|~])", r"\\\1", text)


def md_code(value) -> str:
    """``value`` as inline code on one line: delimited by more backticks than it holds, so it cannot end early."""
    from nlpzoo.files import one_line

    text = one_line(str(value))
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(content: str) -> str:
    """A code fence longer than any run of backticks in ``content``, so that nothing in it closes the block."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    return "`" * max(3, longest + 1)


def _results(metrics: dict, dataset: str, task: str = "text-classification",
             task_name: str = "Text Classification") -> list[dict]:
    scores = []
    for key, value in sorted(metrics.items()):
        split, _, name = key.partition("_")
        if split != "test" or name not in HUB_METRICS or name == "loss" or not isinstance(value, (int, float)):
            continue
        kind, readable, args = HUB_METRICS[name]
        scores.append({"type": kind, "value": round(float(value), 4), "name": f"test {readable}", **({"args": args} if args else {})})
    if not scores:
        return []
    return [{"task": {"type": task, "name": task_name},
             "dataset": {"name": dataset, "type": dataset, "split": "test"}, "metrics": scores}]


def _metric_order(item) -> tuple:
    key = item[0]
    return (0 if key.startswith("test_") else 1 if key.startswith("val_") else 2, key)


def _read_json(run_dir: Path, rel: str) -> dict:
    """A JSON mapping of the run folder, read with its confined, bounded reader; {} when absent or not a mapping."""
    from nlpzoo.runs import read_run_text

    try:
        data = json.loads(read_run_text(run_dir, rel) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
