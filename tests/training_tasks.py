"""Tiny TorchTasks for the training-loop tests (imported by the tests and by their subprocesses)."""
from __future__ import annotations

import torch

from nlpzoo import Classifier
from nlpzoo_training import TorchTask, device_of, on_device_of


def _data(n: int, seed: int = 0):
    w = torch.randn(8, generator=torch.Generator().manual_seed(99))  # one problem; seed picks the sample
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    return x, (x @ w > 0).float()


class Linear(TorchTask):
    """Logistic regression on a fixed random problem; shuffles with the global torch generator."""

    def __init__(self, n: int = 96, batch_size: int = 8, dropout: float = 0.0, hidden: int = 16):
        self.x, self.y = _data(n)
        self.vx, self.vy = _data(48, seed=1)
        self.bs = batch_size
        layers = [torch.nn.Linear(8, hidden), torch.nn.Tanh()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        layers.append(torch.nn.Linear(hidden, 1))
        self.nets = {"model": torch.nn.Sequential(*layers)}
        self.dtypes: list[torch.dtype] = []
        self.epochs_started: list[int] = []

    def train_batches(self, epoch):
        order = torch.randperm(len(self.x))  # global generator: the loop seeds it per epoch
        return [(self.x[order[i:i + self.bs]], self.y[order[i:i + self.bs]]) for i in range(0, len(order), self.bs)]

    def training_step(self, batch, stage):
        x, y = batch
        logits = self.nets["model"](x).squeeze(-1)
        self.dtypes.append(logits.dtype)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y), {"norm": x.norm()}

    def evaluate(self, split):
        net = self.nets["model"]
        (vx, vy), = on_device_of(net, [(self.vx, self.vy)])
        with torch.no_grad():
            logits = net(vx).squeeze(-1).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, vy)
        return {"loss": float(loss), "accuracy": float(((logits > 0).float() == vy).float().mean())}

    def on_epoch_start(self, epoch):
        self.epochs_started.append(epoch)


class Flat(Linear):
    """A validation metric that never improves (early stopping)."""

    def evaluate(self, split):
        return {"loss": 1.0, "accuracy": 0.5}


class Exploding(Linear):
    def training_step(self, batch, stage):
        loss, logs = super().training_step(batch, stage)
        return loss * float("nan"), logs


class TwoStage(TorchTask):
    """Two networks stepped in turn, like a GAN's discriminator and generator."""

    stages = ("critic", "maker")

    def __init__(self):
        self.x, _ = _data(64)
        self.nets = {"critic": torch.nn.Linear(8, 1), "maker": torch.nn.Linear(4, 8)}

    def train_batches(self, epoch):
        return [self.x[i:i + 16] for i in range(0, 64, 16)]

    def training_step(self, batch, stage):
        z = torch.randn(len(batch), 4).to(batch.device)  # noise drawn on the CPU, used where the batch is
        if stage == "critic":
            with torch.no_grad():
                fake = self.nets["maker"](z)
            loss = self.nets["critic"](fake).mean() - self.nets["critic"](batch).mean()
        else:
            loss = -self.nets["critic"](self.nets["maker"](z)).mean()
        return loss, {}

    def evaluate(self, split):
        maker = self.nets["maker"]
        z = torch.randn(32, 4, generator=torch.Generator().manual_seed(0)).to(device_of(maker))
        with torch.no_grad():
            fake = maker(z).cpu()
        return {"loss": float((fake.mean(0) - self.x.mean(0)).pow(2).sum())}


def weights(task) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, net in task.nets.items() for k, v in net.state_dict().items()}


class _Features(TorchTask):
    def __init__(self, model, data):
        self.model, self.data = model, data
        self.nets = {"model": model.net}

    def tensors(self, examples):
        x = torch.tensor([TinyTextModel.features(e["text"]) for e in examples])
        y = torch.tensor([self.model.labels.index(e["label"]) for e in examples])
        return x, y

    def train_batches(self, epoch):
        x, y = self.tensors(self.data["train"])
        order = torch.randperm(len(x))
        bs = 16
        return [(x[order[i:i + bs]], y[order[i:i + bs]]) for i in range(0, len(x), bs)]

    def training_step(self, batch, stage):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.nets["model"](x), y), {}

    def evaluate(self, split):
        return self.model.evaluate(self.data[split])


class TinyTextModel(Classifier):
    """A registered stand-in model for recipe tests: a linear classifier on three character counts."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale
        self.labels: list[str] = []
        self.net = None
        self.seen_train = 0

    @staticmethod
    def features(text):
        return [len(text) / 100, text.count("!") / 3, text.count("e") / 10]

    def fit(self, data, run):
        self.labels = sorted({e["label"] for e in data["train"]})
        self.net = torch.nn.Linear(3, len(self.labels))
        self.seen_train = len(data["train"])
        return run.fit(_Features(self, data))

    def evaluate(self, examples):
        with torch.no_grad():
            (x, y), = on_device_of(self.net, [_Features(self, {}).tensors(examples)])
            logits = self.net(x)
            return {"loss": float(torch.nn.functional.cross_entropy(logits, y)),
                    "accuracy": float((logits.argmax(1) == y).float().mean())}

    def predict_proba(self, texts):
        with torch.no_grad():
            x, = on_device_of(self.net, [torch.tensor([self.features(t) for t in texts])])
            return torch.softmax(self.net(x), -1).cpu().numpy()

    def save_state(self, directory):
        import json

        from nlpzoo_training import save_weights

        save_weights(self.net, directory / "model.safetensors")
        (directory / "learned.json").write_text(json.dumps({"labels": self.labels, "seen_train": self.seen_train}))

    def load_state(self, directory):
        import json

        from nlpzoo_training import load_weights

        learned = json.loads((directory / "learned.json").read_text())
        self.labels, self.seen_train = learned["labels"], learned["seen_train"]
        self.net = torch.nn.Linear(3, len(self.labels))
        load_weights(self.net, directory / "model.safetensors")
