"""The commands of trained runs: ``train`` and ``evaluate``, and ``predict``, ``generate`` and ``sample``,
which use what ``train`` saved. They reach the CLI through ``register_commands``, as any plugin's do."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import click
from nlpzoo import ConfigError, Range
from nlpzoo.commands import COUNT, SEED, Bounded, echo, example


@click.command(epilog=example('nlpzoo train recipes/lstm-classifier-rt.yaml --run-dir runs/rt --set train.epochs=1'))
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where the run goes (default runs/<recipe>-<time>).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a recipe value (repeatable).")
@click.option("--data", type=click.Path(), help="Train on this file or folder instead of the recipe's dataset: "
              ".csv/.tsv, .jsonl, .parquet, .txt (also .gz/.bz2), or a folder with one subfolder per label; "
              "for a tagger, CoNLL columns (.conll, .txt, ...) or .jsonl with tokens and tags.")
@click.option("--text-column", metavar="NAME", help="With --data: the column (JSONL: field) holding the text  [default: text]")
@click.option("--label-column", metavar="NAME", help="With --data: the column (JSONL: field) holding the label  "
              "[default: label for classifiers]; 'none': unlabelled")
def train(recipe, run_dir, resume, overrides, data, text_column, label_column):
    """Build, train, evaluate and save the run that RECIPE describes.

    With --data the recipe's dataset is replaced by the reader for that file (split 80/10/10 by seed,
    stratified by label); --set dataset.KEY=VALUE still applies, e.g. --set dataset.validation_path=dev.csv.
    """
    from nlpzoo import load_recipe

    r = load_recipe(recipe, [o for o in overrides if not o.startswith("dataset")] if data is not None else overrides)
    if data is not None:
        spec = _data_spec(data, text_column, label_column, r.specs["model"].kind)
        r = load_recipe(recipe, (f"dataset={json.dumps(spec)}", *overrides))
    elif text_column is not None or label_column is not None:
        raise ConfigError("goes with --data, the file to train on", "--text-column" if text_column else "--label-column")
    if resume and not run_dir:
        raise ConfigError("--resume needs --run-dir, the run to continue", "--resume")
    claimed = None
    if run_dir is None:
        from .lock import claim_run_dir

        claimed = run_dir = str(claim_run_dir("runs", Path(recipe).stem))
    from . import train_recipe

    try:
        metrics = train_recipe(r, run_dir, resume=resume)
    except BaseException as exc:
        if claimed is not None:  # a default folder this command made and nothing filled
            try:
                os.rmdir(claimed)
            except OSError:
                pass
        # a column the reader did not find is named by the option that chose it
        option = _DATA_OPTIONS.get(exc.loc) if isinstance(exc, ConfigError) and data is not None else None
        if option is None:
            raise
        hint = "choose one with --label-column" if r.specs["model"].kind == "classifier" else \
            "use --label-column none for unlabelled text"
        raise ConfigError(exc.message.replace("set label_column: null for unlabelled text", hint), option, exc.file,
                          exc.line) from None
    echo(f"run: {run_dir}")
    for k, v in sorted(metrics.items()):
        echo(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


_DATA_OPTIONS = {"text_column": "--text-column", "token_column": "--text-column", "label_column": "--label-column",
                 "labels_column": "--label-column", "target_column": "--label-column", "tag_column": "--label-column"}
_DATA_READERS = {".csv": "csv", ".tsv": "csv", ".tab": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".parquet": "parquet", ".pq": "parquet", ".txt": "text-file", ".text": "text-file"}


def _data_spec(path: str, text_column: str | None, label_column: str | None, model_kind: str) -> dict:
    """The dataset spec ``--data`` stands for: the reader chosen by extension (or folder layout)."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: file not found", "--data")
    if model_kind == "tagger":
        return _tagged_data_spec(path, text_column, label_column)
    if model_kind == "multilabel_classifier":
        return _label_set_data_spec(path, text_column, label_column)
    if model_kind == "regressor":
        bare = path.removesuffix(".gz").removesuffix(".bz2")
        if _DATA_READERS.get(os.path.splitext(bare)[1].lower()) != "csv":
            raise ConfigError(f"a regressor reads a CSV or TSV with a numeric column (.csv, .tsv, .tab), got {path}", "--data")
        return {"name": "scored-csv", "path": path, "text_column": text_column or "text",
                "target_column": label_column or "target"}
    if os.path.isdir(path):
        with os.scandir(path) as entries:
            labelled = any(e.is_dir() and not e.name.startswith(".") for e in entries)
        reader = "text-folder" if labelled else "text-file"
    else:
        bare = path.removesuffix(".gz").removesuffix(".bz2")
        reader = _DATA_READERS.get(os.path.splitext(bare)[1].lower())
        if reader is None:
            from nlpzoo import did_you_mean

            suffix = os.path.splitext(bare)[1] or "(none)"
            hint = "; .json: convert to JSON Lines, one object per line" if suffix.lower() == ".json" else \
                did_you_mean(suffix, _DATA_READERS)
            raise ConfigError(f"cannot tell the format of {path} from its extension {suffix}{hint}; expected "
                              f"{', '.join(_DATA_READERS)} (or .gz/.bz2 of them) or a folder", "--data")
    if reader == "jsonl" and model_kind == "classifier" and text_column is None and label_column is None \
            and _snli_layout(path):
        return {"name": "snli-jsonl", "path": path}
    spec: dict = {"name": reader, "path": path}
    labels = label_column if label_column is not None else ("label" if model_kind == "classifier" else None)
    if labels is not None and labels.lower() in ("none", "null", ""):
        labels = None
    if reader in ("text-file", "text-folder"):
        for option, value in (("--text-column", text_column), ("--label-column", label_column)):
            if value is not None:
                what = "labels are the names of its subfolders" if reader == "text-folder" else "one text per line"
                raise ConfigError(f"{path} has no columns ({what})", option)
        return spec
    spec["text_column"], spec["label_column"] = text_column or "text", labels
    if labels is None and model_kind == "classifier":
        raise ConfigError("a classifier needs labels: name the label column", "--label-column")
    return spec


def _snli_layout(path: str) -> bool:
    """Whether a plain JSON Lines file starts with an SNLI/MNLI record (sentence1, sentence2, gold_label)."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = next((line for line in iter(lambda: fh.readline(1 << 20), "") if line.strip()), "")
        record = json.loads(first)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False  # the reader reports what is wrong with the file, with its line
    return isinstance(record, dict) and {"sentence1", "sentence2", "gold_label"} <= set(record)


def _label_set_data_spec(path: str, text_column: str | None, labels_column: str | None) -> dict:
    """A multi-label classifier's ``--data``: JSON Lines with a list of labels, or CSV/TSV with '|'-joined labels."""
    bare = path.removesuffix(".gz").removesuffix(".bz2")
    reader = _DATA_READERS.get(os.path.splitext(bare)[1].lower())
    if reader not in ("jsonl", "csv"):
        raise ConfigError(f"a multi-label classifier reads .jsonl (a list of labels per object) or .csv/.tsv (labels "
                          f"joined by '|'), got {path}", "--data")
    return {"name": f"multilabel-{reader}", "path": path, "text_column": text_column or "text",
            "labels_column": labels_column or "labels"}


def _tagged_data_spec(path: str, token_column: str | None, tag_column: str | None) -> dict:
    """A tagger's ``--data``: JSON Lines of tokens and tags, or CoNLL columns whatever the extension."""
    bare = path.removesuffix(".gz").removesuffix(".bz2")
    if _DATA_READERS.get(os.path.splitext(bare)[1].lower()) == "jsonl":
        return {"name": "tagged-jsonl", "path": path, "token_column": token_column or "tokens",
                "tag_column": tag_column or "tags"}
    spec: dict = {"name": "conll", "path": path}
    for option, key, value in (("--text-column", "token_column", token_column), ("--label-column", "tag_column", tag_column)):
        if value is None:
            continue
        try:
            spec[key] = int(value)
        except ValueError:
            raise ConfigError(f"a CoNLL file's columns are numbers (0-based; -1: the last), got {value!r}", option) from None
    return spec


@click.command(epilog=example('nlpzoo evaluate runs/w2v --pairs my-pairs.tsv --analogies my-analogies.txt'))
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--split", default="test", type=click.Choice(["train", "validation", "test"]), show_default=True)
@click.option("--pairs", type=click.Path(dir_okay=False), help="Word pairs with similarity scores (word1 TAB word2 TAB score): score an embedder run on them instead.")
@click.option("--analogies", type=click.Path(dir_okay=False), help="Analogy questions (': section' lines, then 'a b c d'): score an embedder run on them instead.")
def evaluate(run, split, pairs, analogies):
    """Evaluate a finished run on a split of its dataset, or an embedder run on your own word files."""
    from nlpzoo.runs import open_run

    handle = open_run(run)
    if pairs or analogies:
        metrics = _word_file_scores(handle, pairs, analogies)
        for k, v in metrics.items():
            echo(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
        return
    metrics = handle.evaluate(split)
    for k, v in sorted(metrics.items()):
        echo(f"{split}_{k}: {v:.4f}" if isinstance(v, float) else f"{split}_{k}: {v}")


def _word_file_scores(handle, pairs: str | None, analogies: str | None) -> dict:
    """Scores of an embedder run's vectors on the user's own word-pair and analogy files."""
    for path, option in ((pairs, "--pairs"), (analogies, "--analogies")):
        if path and not os.path.isfile(path):
            raise ConfigError("file not found", option, file=path)
    model = handle.model
    wanted = [("evaluate_pairs", pairs, "--pairs"), ("evaluate_analogies", analogies, "--analogies")]
    metrics: dict = {}
    for method, path, option in wanted:
        if not path:
            continue
        if not hasattr(model, method):
            name = handle.info.get("model", {}).get("name", type(model).__name__)
            raise ConfigError(f"the run's model ({name}) has no word vectors to score; {option} needs an embedder run such as word2vec", option)
        metrics.update(getattr(model, method)(path))
    return metrics


@click.command(epilog=example('nlpzoo predict runs/rt "a gorgeous, witty, seductive movie"'))
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "infile", type=click.Path(dir_okay=False), help="CSV (with a text column) or one text per line.")
@click.option("--output", "-o", help="Write predictions as CSV here (atomically); - for standard output.")
@click.option("--parents", is_flag=True, help="Create the output's missing parent folders.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair", "pairs", multiple=True, metavar="TEXT",
              help="The second text of a sentence pair, one per TEXT in order (repeat it).")
@click.option("--pair-column", metavar="NAME", help="With --file: the CSV column holding each pair's second text.")
@click.option("--batch-size", default=64, show_default=True, type=COUNT)
def predict(run, texts, infile, output, parents, text_column, pairs, pair_column, batch_size):
    """Classify TEXTS (or a file of them) with a classifier run (one label) or a multi-label classifier run (a set
    of labels), score them with a regressor run, or find their entities with a tagger run. Sentence pairs: each
    TEXT with a --pair, or a file's two columns."""
    from nlpzoo.files import check_output, write_output
    from nlpzoo.runs import open_run

    if output:
        check_output(output, parents=parents)
    texts = list(texts)
    rows = None
    if infile:
        rows, texts = _read_texts(infile, text_column)
    if not texts:
        raise ConfigError("give texts to classify, or --file", "TEXTS")
    inputs, rows, texts = _paired(texts, rows, list(pairs), pair_column, infile)
    model = open_run(run).model_for("predict", "predict")
    if inputs is not texts and not getattr(model, "reads_pairs", False):
        raise ConfigError(f"this run's {getattr(model, 'kind', 'model')} reads one text at a time, not sentence pairs",
                          "--pair")
    preds = []
    for i in range(0, len(inputs), batch_size):
        preds += model.predict(inputs[i:i + batch_size])
    if preds and "entities" in preds[0]:
        _print_entities(texts, preds, output, parents)
        return
    if preds and "value" in preds[0]:
        _print_values(texts, rows, preds, output, parents)
        return
    if preds and "scores" in preds[0]:
        _print_label_sets(texts, rows, preds, output, parents)
        return
    labels = sorted({k for p in preds for k in p.get("probabilities", {})})
    if output:
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        base = list(rows[0].keys()) if rows else ["text"]
        writer.writerow(base + ["label"] + [f"p_{l}" for l in labels])
        for j, (t, p) in enumerate(zip(texts, preds)):
            original = list(rows[j].values()) if rows else [t]
            writer.writerow(original + [p["label"]] + [f"{p['probabilities'].get(l, 0.0):.6f}" for l in labels])
        write_output(output, buf.getvalue(), parents=parents)
        if output != "-":
            echo(f"wrote {len(preds)} predictions to {output}")
        return
    for t, p in zip(texts, preds):
        probs = " ".join(f"{l}={p['probabilities'][l]:.3f}" for l in labels)
        echo(f"{p['label']}\t{probs}\t{t}")


def _paired(texts: list[str], rows: list[dict] | None, pairs: list[str], pair_column: str | None, infile: str | None):
    """``(model inputs, rows, texts as shown)``: ``(text, text_pair)`` tuples for sentence pairs, else ``texts``."""
    if pair_column is not None:
        if rows is None:
            raise ConfigError("goes with --file, a CSV or TSV with a column of second texts", "--pair-column")
        if pair_column not in rows[0]:
            from nlpzoo import did_you_mean

            raise ConfigError(f"no column {pair_column!r}{did_you_mean(pair_column, rows[0])}; columns: "
                              f"{', '.join(rows[0])}", "--pair-column", file=infile, line=1)
        for j, row in enumerate(rows):
            if not (row[pair_column] or "").strip():
                raise ConfigError(f"empty {pair_column!r}: a sentence pair needs its second text", "--pair-column",
                                  file=infile, line=j + 2)
        pairs = [row[pair_column] for row in rows]
    elif pairs:
        if infile:
            raise ConfigError("with --file, name the column of second texts with --pair-column", "--pair")
        if len(pairs) != len(texts):
            raise ConfigError(f"got {len(texts)} texts and {len(pairs)} --pair texts; give one --pair per text",
                              "--pair")
        rows = [{"text": t, "text_pair": p} for t, p in zip(texts, pairs)]
    else:
        return texts, rows, texts
    return list(zip(texts, pairs)), rows, [f"{t}\t{p}" for t, p in zip(texts, pairs)]

#: the largest file ``predict --file`` reads (held in memory with its predictions)
MAX_PREDICT_FILE = 256 * 1024 * 1024


def _print_entities(texts: list[str], preds: list[dict], output: str | None, parents: bool) -> None:
    """A tagger's entities: one CSV row each with -o; otherwise each text, then its entities, indented."""
    from nlpzoo.files import write_output

    if output:
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["text_index", "label", "start", "end", "entity", "score"])
        for j, p in enumerate(preds):
            for e in p["entities"]:
                writer.writerow([j, e["label"], e["start"], e["end"], e["text"], f"{e['score']:.6f}"])
        write_output(output, buf.getvalue(), parents=parents)
        if output != "-":
            echo(f"wrote {sum(len(p['entities']) for p in preds)} entities of {len(preds)} texts to {output}")
        return
    for t, p in zip(texts, preds):
        echo(t)
        for e in p["entities"]:
            echo(f"  {e['label']}\t{e['start']}-{e['end']}\t{e['text']}\t{e['score']:.3f}")


def _print_values(texts: list[str], rows: list[dict] | None, preds: list[dict], output: str | None, parents: bool) -> None:
    """A regressor's numbers: a ``value`` column added to the input with -o; otherwise ``value<TAB>text`` lines."""
    from nlpzoo.files import write_output

    if output:
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow((list(rows[0].keys()) if rows else ["text"]) + ["value"])
        for j, (t, p) in enumerate(zip(texts, preds)):
            writer.writerow((list(rows[j].values()) if rows else [t]) + [f"{p['value']:.6f}"])
        write_output(output, buf.getvalue(), parents=parents)
        if output != "-":
            echo(f"wrote {len(preds)} predictions to {output}")
        return
    for t, p in zip(texts, preds):
        echo(f"{p['value']:.4f}\t{t}")


def _print_label_sets(texts: list[str], rows: list[dict] | None, preds: list[dict], output: str | None,
                      parents: bool) -> None:
    """A multi-label classifier's label sets: ``labels`` ('|'-joined) and ``p_<label>`` columns with -o; otherwise
    ``label|label<TAB>scores<TAB>text`` lines (``-`` for a text given no label)."""
    from nlpzoo.files import write_output

    labels = list(preds[0]["scores"])
    if output:
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow((list(rows[0].keys()) if rows else ["text"]) + ["labels"] + [f"p_{l}" for l in labels])
        for j, (t, p) in enumerate(zip(texts, preds)):
            writer.writerow((list(rows[j].values()) if rows else [t]) + ["|".join(p["labels"])]
                            + [f"{p['scores'][l]:.6f}" for l in labels])
        write_output(output, buf.getvalue(), parents=parents)
        if output != "-":
            echo(f"wrote {len(preds)} predictions to {output}")
        return
    for t, p in zip(texts, preds):
        shown = " ".join(f"{l}={p['scores'][l]:.3f}" for l in p["labels"])
        echo(f"{'|'.join(p['labels']) or '-'}\t{shown}\t{t}")


def _read_texts(path: str, column: str) -> tuple[list[dict] | None, list[str]]:
    from nlpzoo.files import read_bounded

    raw = read_bounded(path, MAX_PREDICT_FILE, "file")  # /dev/zero is refused at the limit, not read forever
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", file=path,
                          line=raw[:exc.start].count(b"\n") + 1) from None
    with io.StringIO(text, newline="") as fh:
        if path.endswith((".csv", ".tsv")):
            reader = csv.DictReader(fh, delimiter="\t" if path.endswith(".tsv") else ",")
            if reader.fieldnames is None or column not in reader.fieldnames:
                from nlpzoo import did_you_mean

                have = reader.fieldnames or []
                raise ConfigError(f"no column {column!r}{did_you_mean(column, have)}; columns: {', '.join(have)}; choose one with --text-column", file=path, line=1)
            rows = list(reader)
            return rows, [r[column] for r in rows]
        return None, [line.rstrip("\n") for line in fh if line.strip()]


@click.command(epilog=example('nlpzoo generate runs/lm --prompt "the history of" --temperature 0.8 --top-p 0.9'))
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--prompt", "-p", default="", help="Text to continue.")
@click.option("--max-tokens", default=50, show_default=True, type=Bounded(int, Range(0, 10**6)))
@click.option("--temperature", default=1.0, show_default=True, type=Bounded(float, Range(0, 100)),
              help="0: greedy; 100 is as good as uniform sampling (higher would divide the logits into NaN).")
@click.option("--top-k", default=0, show_default=True, type=Bounded(int, Range(0)), help="0: no top-k filtering.")
@click.option("--top-p", default=1.0, show_default=True, type=Bounded(float, Range(gt=0, le=1)), help="Nucleus sampling; 1.0: off.")
@click.option("--seed", default=0, show_default=True, type=SEED)
def generate(run, prompt, max_tokens, temperature, top_k, top_p, seed):
    """Continue PROMPT with a trained language-model run."""
    from nlpzoo.runs import open_run

    model = open_run(run).model_for("generate", "generate")
    echo(model.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed))


@click.command(epilog=example('nlpzoo sample runs/gan -n 64 -o digits.png'))
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "count", default=64, show_default=True, type=Bounded(int, Range(1, 10**4)), help="How many samples.")
@click.option("--output", "-o", default=None,
              help="Where to write them; - for standard output. Default: printed one a line (text GANs), "
                   "samples.png (image GANs).")
@click.option("--parents", is_flag=True, help="Create the output's missing parent folders.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--interpolate", nargs=2, type=SEED, metavar="SEED_A SEED_B", help="A strip from one latent seed to another instead.")
def sample(run, count, output, parents, seed, interpolate):
    """Draw samples from a trained GAN run: sentences (text GANs) or a PNG grid (image GANs)."""
    import tempfile

    from nlpzoo.files import check_output
    from nlpzoo.runs import open_run

    if output is not None:
        check_output(output, parents=parents)
    model = open_run(run).model_for("sample", "sample")
    if interpolate and not callable(getattr(model, "interpolate", None)):
        raise click.UsageError(f"{type(model).__name__} cannot interpolate; leave out --interpolate")
    if output is None:
        if model.modality == "text" and not interpolate:  # sentences, printed one a line
            for text in model.sample(count, seed=seed):
                echo(text)
            return
        output = "samples.png"
        check_output(output, parents=parents)
    if interpolate:
        samples = model.interpolate(interpolate[0], interpolate[1], steps=count)
        extra = {"nrow": len(samples)}
    else:
        samples = model.sample(count, seed=seed)
        extra = {}
    if output != "-":
        echo(model.save_samples(samples, output, **extra))
        return
    with tempfile.TemporaryDirectory() as folder:  # the model writes its own format; stdout gets the bytes
        written = Path(folder) / ("samples.txt" if model.modality == "text" else "samples.png")
        model.save_samples(samples, written, **extra)
        sys.stdout.buffer.write(written.read_bytes())
        sys.stdout.flush()

