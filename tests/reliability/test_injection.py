"""Injection into what people read: label names, recipe text and run records are data, never markup or
terminal commands.

The model card is rendered with a CommonMark renderer (markdown-it, HTML allowed, as hubs render
cards): hostile labels add no table rows and hostile recipe text adds no HTML. Every command's output
is checked for control characters that a terminal would obey (window title, clipboard, colours).
"""
from __future__ import annotations

import json
import random
import re
import shutil

import pytest
import yaml

from reliability_support import TALLY, nlpzoo, write

FAMILY = "injection"

HOSTILE_LABELS = ["a|b\n| injected | row |", "x|y", "`code`", "<img src=x onerror=alert(1)>", "$$", "line\nbreak",
                  "```", "| --- |", "\\|", "**bold**", "[link](javascript:alert(1))", "\x1b]0;title\x07"]
HOSTILE_DESCRIPTIONS = ["```\n<img src=x onerror=alert(1)>", "````\n<script>alert(1)</script>\n````",
                        "~~~\n<img src=x onerror=alert(2)>", "```yaml\n```\n<iframe src=x>",
                        "``````````\n<img src=y onerror=z>"]

#: a terminal obeys these: C0 controls other than tab and newline, DEL, and the C1 controls (CSI, OSC, ...)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def stub_classifier(labels):
    import numpy as np

    import nlpzoo

    class Stub(nlpzoo.Classifier):
        def __init__(self):
            self.labels = list(labels)

        def fit(self, data, run):
            return {}

        def predict_proba(self, texts):
            return np.full((len(texts), len(self.labels)), 1 / len(self.labels))

        def save_state(self, directory):
            pass

        def load_state(self, directory):
            pass

    return Stub()


def card_for(tmp_path, labels, description):
    from nlpzoo_reports.modelcard import render_model_card

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True, exist_ok=True)
    write(run / "run.json", json.dumps({"status": "finished", "seed": 0,
                                        "model": {"kind": "classifier", "name": "stub", "provider": "t", "target": "m:C"},
                                        "dataset": {"name": "d", "kind": "dataset", "provider": "t"}}))
    write(run / "recipe.yaml", yaml.safe_dump({"description": description, "seed": 0}, sort_keys=False, allow_unicode=True))
    metrics = {"test_accuracy": 0.5, **{f"test_recall_{label}": 0.25 for label in labels}}
    return render_model_card(run, stub_classifier(labels), metrics, {}), metrics


@pytest.mark.parametrize("seed", range(30))
def test_a_model_card_renders_labels_and_recipe_text_as_text(tmp_path, seed):
    from markdown_it import MarkdownIt

    rng = random.Random(seed)
    labels = sorted(set(rng.sample(HOSTILE_LABELS, rng.randint(1, 4))) | {"plain"})
    description = rng.choice(HOSTILE_DESCRIPTIONS)
    card, metrics = card_for(tmp_path, labels, description)
    tokens = MarkdownIt("commonmark").enable("table").parse(card)
    rendered = MarkdownIt("commonmark").enable("table").render(card)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    rows = sum(1 for t in tokens if t.type == "tr_open")
    assert rows == len(metrics) + 1, f"{rows - 1} metric rows for {len(metrics)} metrics: {labels!r}"
    assert not re.search(r"<(img|script|iframe)", rendered), f"raw HTML reached the card: {description!r}"
    assert description.splitlines()[-1] in card  # the text itself is kept, as text


# ---------------------------------------------------------------- terminal output


def clean(done) -> None:
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    found = CONTROL.findall(done.stdout + done.stderr)
    assert not found, f"control characters reached the terminal: {sorted(set(found))!r}"


PAYLOADS = ["\x1b]0;owned\x07", "\x1b]52;c;ZWNobyBvd25lZA==\x07", "\x1b[2J\x1b[H", "\x9b31m", "a\rb", "\x07\x08\x00"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_runs_prints_no_control_characters_from_run_records(finished_run, tmp_path, payload):
    root = tmp_path / "runs"
    name = "run" + payload.replace("\x00", "").replace("/", "")
    shutil.copytree(finished_run, root / name, symlinks=True)
    info = json.loads((root / name / "run.json").read_text())
    info.update(status=payload, device=payload, dataset={**info["dataset"], "name": payload})
    write(root / name / "run.json", json.dumps(info))
    clean(nlpzoo("runs", str(root)))


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.slow
def test_predict_prints_no_control_characters_from_texts_or_headers(finished_run, tmp_path, payload):
    clean(nlpzoo("predict", str(finished_run), f"a fine film {payload}".replace("\x00", "")))  # argv holds no NUL
    table = write(tmp_path / "in.csv", f"words{payload},other\nsome text,1\n")
    clean(nlpzoo("predict", str(finished_run), "--file", str(table)))  # the error names the header's cells


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.slow
def test_list_info_and_errors_print_no_control_characters_from_a_catalogue(tmp_path, payload):
    overlay = write(tmp_path / "overlay.yaml", "presets:\n  hostile-preset:\n    kind: augmenter\n"
                                               f"    component: eda\n    summary: {json.dumps('a ' + payload)}\n")
    clean(nlpzoo("--catalog", str(overlay), "list", "hostile-*"))
    clean(nlpzoo("--catalog", str(overlay), "info", "hostile-preset"))
    clean(nlpzoo("validate", str(tmp_path / f"missing{payload}.yaml").replace("\x00", "")))
    clean(nlpzoo("augment", "random-swap", input=f"a b c {payload} d e\n".encode()))


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("kind", ["regressor", "tagger", "multilabel_classifier"])
def test_every_kind_of_prediction_prints_texts_as_text(capsys, kind, payload):
    from nlpzoo_training import commands as cli

    text = f"a fine film {payload}"
    if kind == "regressor":
        cli._print_values([text], None, [{"value": 1.5}], None, False)
    elif kind == "tagger":
        entity = {"label": payload, "start": 0, "end": 1, "text": payload, "score": 0.5}
        cli._print_entities([text], [{"entities": [entity]}], None, False)
    else:
        cli._print_label_sets([text], None, [{"labels": [payload], "scores": {payload: 0.9}}], None, False)
    printed = capsys.readouterr()
    TALLY.cases += 1
    TALLY.count(FAMILY)
    found = CONTROL.findall(printed.out + printed.err)
    assert "a fine film" in printed.out and not found, f"control characters reached the terminal: {sorted(set(found))!r}"
