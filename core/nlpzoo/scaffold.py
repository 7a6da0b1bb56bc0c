"""``nlpzoo new-plugin NAME``: a plugin package that installs, registers one component and passes its own tests.

The files are templates with ``{name}`` (the plugin's name, as in ``nlpzoo-{name}``), ``{package}``
(``nlpzoo_{name}`` with underscores), ``{component}`` and ``{cls}``; each kind has its own component
module and test.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import ConfigError, did_you_mean

PYPROJECT = '''[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "nlpzoo-{name}"
version = "0.1.0"
description = "An nlpzoo plugin: the {kind} '{component}'."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["nlpzoo"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The one line that makes this a plugin: nlpzoo loads every entry point in group "nlpzoo".
[project.entry-points.nlpzoo]
{name} = "{package}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]
'''

README = '''# nlpzoo-{name}

An [nlpzoo](https://pypi.org/project/nlpzoo/) plugin that adds the {kind} `{component}`.

```text
pip install -e .            # from this folder; then:
nlpzoo plugins              # '{name}' is listed, status ok
nlpzoo info {component}
python -m pytest tests      # the conformance kit checks the component
```

Edit `{package}/components.py` (the component) and `{package}/plugin.py` (what is registered). Keep
`plugin.py` free of heavy imports (torch, transformers): every nlpzoo command loads it.
'''

PLUGIN = '''"""Registers this plugin's components; light: imports nothing but nlpzoo."""
import nlpzoo

PLUGIN_API = 2  # the nlpzoo plugin API this plugin is written for


@nlpzoo.hookimpl
def register_components(register):
    register("{kind}", "{component}", target="{package}.components:{cls}",
             summary="{summary}", tags=("{name}",))
'''

COMPONENTS = {
    "augmenter": '''"""The {component} augmenter."""
from __future__ import annotations

import random
from typing import Annotated

import nlpzoo


class {cls}(nlpzoo.Augmenter):
    """Repeats each word with probability ``rate`` ("a very nice film" -> "a very very nice film")."""

    def __init__(self, rate: Annotated[float, nlpzoo.Range(0, 1)] = 0.1):  # the range is checked before this runs
        self.rate = rate

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        words, out, ops = text.split(" "), [], []
        for word in words:
            out.append(word)
            if word and rng.random() < self.rate:
                out.append(word)
                ops.append(f"{component}:{{word}}")
        return " ".join(out), ops
''',
    "scheduler": '''"""The {component} learning-rate schedule."""
from __future__ import annotations

from typing import Annotated

import nlpzoo


class {cls}(nlpzoo.Scheduler):
    """Linear warm-up over ``warmup`` (a share of the steps), then the rate falls as 1/sqrt(step)."""

    def __init__(self, warmup: Annotated[float, nlpzoo.Range(0, lt=1)] = 0.05):  # checked before this runs
        self.warmup = warmup

    def create(self, optimizer, total_steps: int):
        import torch

        warm = max(1, round(self.warmup * total_steps))

        def factor(step: int) -> float:
            return (step + 1) / warm if step < warm else (warm / (step + 1)) ** 0.5

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
''',
    "classifier": '''"""The {component} classifier, trained by nlpzoo's shared loop (devices, precision, checkpoints come with it)."""
from __future__ import annotations

import json
from typing import Annotated

import nlpzoo
from nlpzoo.training import TorchTask


class {cls}(nlpzoo.Classifier):
    """The mean of the words' embeddings, then a linear layer (fastText-like)."""

    # what evaluate reports: `nlpzoo validate` refuses a train.metric outside these before training
    validation_metrics = ("loss", "accuracy", "macro_f1")

    def __init__(self, dim: Annotated[int, nlpzoo.Range(1, 4096)] = 32,
                 vocab_size: Annotated[int, nlpzoo.Range(4, 10**7)] = 5000,
                 max_length: Annotated[int, nlpzoo.Range(1, 10**5)] = 64):  # ranges are checked before this runs
        self.dim, self.vocab_size, self.max_length = dim, vocab_size, max_length
        self.labels: list[str] = []
        self.tokenizer = self.net = None

    def _make_net(self):
        import torch

        class Net(torch.nn.Module):
            def __init__(self, vocab: int, dim: int, classes: int):
                super().__init__()
                self.embed = torch.nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0)  # [PAD] is id 0
                self.head = torch.nn.Linear(dim, classes)

            def forward(self, ids):  # (B, T) -> (B, C)
                return self.head(self.embed(ids))

        return Net(self.tokenizer.vocab_size, self.dim, len(self.labels))

    def fit(self, data, run):
        from nlpzoo.tokenization import TextTokenizer

        self.labels = sorted({{ex["label"] for ex in data["train"]}})
        self.tokenizer = TextTokenizer.train([ex["text"] for ex in data["train"]], "word", vocab_size=self.vocab_size)
        self.net = self._make_net()
        return run.fit(_Task(self, data, run))

    def predict_proba(self, texts):
        import numpy as np
        import torch

        from nlpzoo.training import evaluating, longest_first_batches, on_device_of, pad_sequences

        ids = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        order = longest_first_batches([len(x) for x in ids], 64)
        batches = (pad_sequences([ids[i] for i in b], self.tokenizer.pad_id, self.max_length)[0] for b in order)
        with evaluating(self.net), torch.no_grad():
            for b, x in zip(order, on_device_of(self.net, batches)):
                out[b] = torch.softmax(self.net(x).float(), -1).cpu().numpy()
        return out

    def save_state(self, directory):
        from nlpzoo.training import atomic_write, save_weights

        self.tokenizer.save(directory / "tokenizer.json")
        atomic_write(directory / "labels.json", json.dumps(self.labels))
        save_weights(self.net, directory / "model.safetensors")

    def load_state(self, directory):
        from nlpzoo.tokenization import TextTokenizer
        from nlpzoo.training import load_weights

        self.tokenizer = TextTokenizer.load(directory / "tokenizer.json")
        self.labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
        self.net = self._make_net()
        load_weights(self.net, directory / "model.safetensors")


class _Task(TorchTask):
    """Batches of similar length made on the CPU (the loop moves them), cross-entropy, validation scores."""

    def __init__(self, model, data, run):
        index = {{label: i for i, label in enumerate(model.labels)}}
        self.model, self.nets, self.run = model, {{"model": model.net}}, run
        self.texts = [ex["text"] for ex in data["train"]]
        self.y = [index[ex["label"]] for ex in data["train"]]
        self.validation = data.get("validation") or data["train"]

    def train_batches(self, epoch):
        import torch

        from nlpzoo.training import length_bucketed_batches, pad_sequences

        # the recipe's augmenter (if any) rewrites the texts each epoch; without one they come back unchanged
        ids = self.model.tokenizer.encode_batch(self.run.augment_texts(self.texts, epoch))
        for b in length_bucketed_batches([len(x) for x in ids], self.run.config.batch_size, self.run.seed + epoch):
            batch, _ = pad_sequences([ids[i] for i in b], self.model.tokenizer.pad_id, self.model.max_length)
            yield batch, torch.tensor([self.y[i] for i in b])

    def training_step(self, batch, stage):
        import torch.nn.functional as F

        ids, y = batch
        return F.cross_entropy(self.nets["model"](ids), y), {{}}

    def evaluate(self, split):
        return self.model.evaluate(self.validation)
''',
}

SUMMARIES = {
    "augmenter": "Repeats a share of the words.",
    "scheduler": "Linear warm-up, then inverse square root decay.",
    "classifier": "Mean of word embeddings and a linear layer, on nlpzoo's shared loop.",
}

TEST = '''"""The plugin's own tests: the conformance kit of nlpzoo checks what every {kind} must do."""
from nlpzoo.testing import check_component, check_plugin


def test_the_plugin_loads_and_registers_cleanly():
    check_plugin("{name}")


def test_the_{underscored}_{kind}_keeps_its_contract():
    check_component("{kind}", "{component}", {params})
'''

KINDS = tuple(COMPONENTS)
TEST_PARAMS = {"augmenter": "{\"rate\": 0.5}", "scheduler": "{\"warmup\": 0.1}", "classifier": "{\"dim\": 8}"}


def new_plugin(name: str, kind: str, folder: Path) -> Path:
    """Write ``folder/nlpzoo-<name>/``; refuses to write over anything that exists."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ConfigError(f"expected a lower-case name of letters, digits and '-', got {name!r}", "NAME")
    if kind not in COMPONENTS:
        raise ConfigError(f"expected one of {', '.join(KINDS)}, got {kind!r}{did_you_mean(kind, KINDS)}", "--kind")
    root = folder / f"nlpzoo-{name}"
    if root.exists():
        raise ConfigError(f"{root} already exists; choose another name or folder", "NAME")
    package = f"nlpzoo_{name.replace('-', '_')}"
    component = name
    values = {"name": name, "package": package, "kind": kind, "component": component,
              "cls": "".join(part.capitalize() for part in name.split("-")), "summary": SUMMARIES[kind],
              "underscored": name.replace("-", "_"), "params": TEST_PARAMS[kind]}
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README, f"{package}/__init__.py": '"""nlpzoo-{name}."""\n',
        f"{package}/plugin.py": PLUGIN, f"{package}/components.py": COMPONENTS[kind], f"tests/test_{package}.py": TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return root
