"""The ``dcgan`` and ``cdcgan`` GAN components. torch is imported inside methods: ``nlpzoo info dcgan`` stays light."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypedDict, Unpack

from nlpzoo import GAN, ConfigError, Optimizer, Range

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from nlpzoo_training import Run

LEARNED = "learned.json"  # what training learned beside the weights: image shape, classes, grid seed, judge
GENERATOR = "generator.safetensors"
DISCRIMINATOR = "discriminator.safetensors"
JUDGE = "judge.safetensors"


class GanOptions(TypedDict, total=False):
    """The parameters ``dcgan`` and ``cdcgan`` share; DCGAN's class attributes of these names are the defaults."""

    latent: Annotated[int, Range(1, 10**5)]
    g_width: Annotated[int, Range(1, 10**4)]
    d_width: Annotated[int, Range(1, 10**4)]
    lr: Annotated[float, Range(gt=0)]
    lr_d: Annotated[float, Range(gt=0)] | None
    beta1: Annotated[float, Range(0, lt=1)]
    beta2: Annotated[float, Range(0, lt=1)]
    generator_optimizer: Optimizer | None
    discriminator_optimizer: Optimizer | None
    init: Literal["dcgan", "default"]
    loss: Literal["bce", "hinge"]
    spectral_norm: bool
    label_smoothing: Annotated[float, Range(0, lt=0.5)]
    quality: bool
    judge_epochs: Annotated[int, Range(0, 10**4)]
    grid: Annotated[int, Range(1, 10**4)]
    eval_samples: Annotated[int, Range(2, 10**6)]
    seed: Annotated[int, Range(0, 2**32 - 1)] | None


class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al., 2016) for 28x28, 32x32 or 64x64 images, 1 or 3 channels.

    The generator stacks transposed convolutions with batch norm and ReLU, the discriminator strided
    convolutions with LeakyReLU(0.2); both are sized from the training images. By default both are
    trained with Adam (lr 2e-4, beta1 0.5) and start from the paper's N(0, 0.02) initialisation; the
    recipe's ``optimizer`` or ``generator_optimizer`` / ``discriminator_optimizer`` replace Adam.

    - ``latent``: size of the noise vector z; ``g_width`` / ``d_width``: channels of the widest
      generator layer's neighbour and of the first discriminator layer (64 in the paper).
    - ``lr`` / ``lr_d``: Adam's learning rates of G and D; a larger ``lr_d`` is the two time-scale
      update rule (Heusel et al., 2017).
    - ``loss``: ``bce`` (the paper's, with the non-saturating generator loss) or ``hinge``
      (Lim and Ye, 2017; Miyato et al., 2018).
    - ``spectral_norm``: spectral normalisation of every discriminator weight, batch norm left out.
    - ``label_smoothing``: one-sided; real images are labelled ``1 - label_smoothing`` for D (bce only).
    - ``conditional``: a class-conditional GAN (labels appended to z and, as constant maps, to D's
      input); needs labelled images; ``sample`` then cycles through the classes.
    - ``quality``: with labelled images, train a small classifier on the training split first and
      report the Fréchet distance on its features (``frechet_distance``), the share of confidently classified
      samples (``confident``) and class coverage at every evaluation.
    - ``grid``: images in the per-epoch sample grid drawn from a fixed noise batch.

    An exponential moving average of the weights is the loop's ``train.ema``.
    """

    modality = "image"
    projection = False  # how a conditional discriminator takes the class: cdcgan projects
    latent, g_width, d_width, lr, lr_d, beta1, beta2 = 100, 64, 64, 2e-4, None, 0.5, 0.999
    generator_optimizer = discriminator_optimizer = None
    init, loss, spectral_norm, label_smoothing = "dcgan", "bce", False, 0.0
    quality, judge_epochs, grid, eval_samples, seed = True, 4, 64, 500, None
    validation_metrics = ("loss", "loss_d", "loss_g", "d_real", "d_fake", "frechet_distance", "confident", "coverage")

    def __init__(self, conditional: bool = False, **options: Unpack[GanOptions]):
        unknown = sorted(set(options) - GanOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        for key, value in options.items():
            setattr(self, key, value)
        # each value's own range is its declared Range, checked before a spec is built; what they need together:
        if self.label_smoothing and self.loss != "bce":
            raise ConfigError("label_smoothing applies to the bce loss only; set it to 0 with loss: hinge", "label_smoothing")
        self.conditional = conditional
        self.seed_param = self.seed
        self.shape: tuple[int, int, int] | None = None  # (channels, height, width), known after build
        self.classes: list[str] | None = None
        self.num_classes = 0
        self.judge = None
        self.grid_seed = 0
        self.generator = self.discriminator = None

    # ------------------------------------------------------------ networks

    def build(self, shape: Sequence[int], classes: list[str] | None = None, seed: int = 0) -> "DCGAN":
        """Create both networks for images of ``shape`` ``(C, H, W)``; untrained, initialised from ``seed``."""
        from .nets import build_nets, layout

        c, h, w = (int(s) for s in shape)
        if c not in (1, 3):
            raise ConfigError(f"dcgan supports 1 or 3 channels, got images with {c}", "dataset")
        if h != w:
            raise ConfigError(f"dcgan needs square images, got {h}x{w}; resize them (image-folder takes a size)", "dataset")
        try:
            layout(h)
        except ValueError as exc:
            raise ConfigError(str(exc), "dataset") from None
        if self.conditional and not classes:
            raise ConfigError(f"{'cdcgan' if self.projection else 'conditional: true'} needs a labelled dataset",
                              "model.conditional")
        self.shape = (c, h, w)
        self.classes = list(classes) if classes else None
        self.num_classes = len(classes) if self.conditional and classes else 0
        self.seed = seed if self.seed_param is None else self.seed_param
        self.generator, self.discriminator = build_nets(self.latent, c, h, self.g_width, self.d_width,
                                                        self.num_classes, self.init, self.seed,
                                                        spectral_norm=self.spectral_norm, projection=self.projection)
        self.grid_seed = self.seed + 1
        return self

    def _need_nets(self) -> None:
        if self.generator is None:
            raise RuntimeError("this dcgan has no networks yet: train it (fit) or load a saved one")

    def _labels_for(self, n: int, labels=None) -> "torch.Tensor | None":
        """Class ids ``(n,)`` on the CPU: ``labels`` (ids or class names; one is repeated), else 0, 1, 2, ... cycled."""
        import torch

        if not self.num_classes:
            if labels is not None:
                raise ValueError("this GAN is not class-conditional: it draws no labels")
            return None
        if labels is None:
            return torch.arange(n) % self.num_classes
        if hasattr(labels, "tolist"):  # a numpy array or a tensor
            labels = labels.tolist()
        if isinstance(labels, (str, int)):
            labels = [labels]
        labels = [self._class_id(label) for label in labels]
        if len(labels) == 1:
            labels = labels * n
        if len(labels) != n:
            raise ValueError(f"expected {n} labels (or one for all), got {len(labels)}")
        return torch.as_tensor(labels, dtype=torch.long)

    def _class_id(self, label) -> int:
        import numbers

        if isinstance(label, str) and self.classes and label in self.classes:
            return self.classes.index(label)
        if isinstance(label, numbers.Integral) and 0 <= int(label) < self.num_classes:
            return int(label)
        names = f"; classes: {', '.join(self.classes)}" if self.classes and len(self.classes) <= 20 else ""
        raise ValueError(f"expected class ids in 0..{self.num_classes - 1} or class names, got {label!r}{names}")

    def _generate(self, z: "torch.Tensor", labels: "torch.Tensor | None") -> "np.ndarray":
        """Images from CPU noise ``(n, latent)`` and class ids, computed where the generator lives."""
        import torch

        from nlpzoo_training import evaluating, on_device_of

        with torch.no_grad(), evaluating(self.generator):
            z, labels = next(on_device_of(self.generator, [(z, labels)]))
            out = self.generator(z, labels)  # (n, C, H, W)
        return ((out.float() + 1.0) / 2.0).clamp_(0.0, 1.0).cpu().numpy()

    # ------------------------------------------------------------ drawing

    def sample(self, n: int, seed: int = 0, labels=None) -> "np.ndarray":
        """``n`` images, float ``(n, C, H, W)`` in [0, 1]; the same for the same seed on every device (and
        the i-th image does not depend on ``n``). Conditional models cycle through the classes unless
        ``labels`` (class ids or names, one per image or one for all) is given."""
        from .nets import noise

        self._need_nets()
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return self._generate(noise(n, self.latent, seed), self._labels_for(n, labels))

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, label=None) -> "np.ndarray":
        """``steps`` images along the great circle (slerp) from the latent of ``seed_a`` to that of ``seed_b``
        (the first image of ``sample(1, seed)`` each). Conditional models keep ``label`` (default: class 0)."""
        import torch

        from .nets import noise

        self._need_nets()
        if steps < 2:
            raise ValueError(f"steps must be at least 2, got {steps}")
        a, b = noise(1, self.latent, seed_a)[0].double(), noise(1, self.latent, seed_b)[0].double()  # (latent,)
        omega = torch.arccos(torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0))
        t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]  # (steps, 1)
        if float(omega) < 1e-6:
            z = (1 - t) * a + t * b
        else:
            z = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)  # (steps, latent)
        labels = self._labels_for(steps, [0 if label is None else label]) if self.num_classes else None
        return self._generate(z.float(), labels)

    def fixed_grid(self) -> "np.ndarray":
        """The fixed noise batch drawn at every epoch, so the grids are comparable."""
        return self.sample(self.grid, seed=self.grid_seed)

    def save_samples(self, samples, path: str | os.PathLike, nrow: int | None = None) -> str:
        """``samples`` (float ``(n, C, H, W)`` in [0, 1]) as one PNG grid at ``path``, ``nrow`` images per row
        (default: one class per column for a conditional model, else a square-ish grid)."""
        from .images import save_grid

        save_grid(samples, path, nrow=nrow or self.num_classes or None)
        return f"wrote {len(samples)} images to {path}"

    def save_grid(self, path) -> Path:
        """The fixed-noise grid as a PNG (conditional: one class per column)."""
        self.save_samples(self.fixed_grid(), path)
        return Path(path)

    # ------------------------------------------------------------ training

    def _optimizers(self, run: "Run") -> dict:
        import nlpzoo

        def adam(lr: float):
            return nlpzoo.build({"name": "adam", "lr": lr, "betas": [self.beta1, self.beta2]}, "optimizer")

        default_g = run.optimizer or adam(self.lr)
        default_d = run.optimizer or adam(self.lr_d if self.lr_d is not None else self.lr)
        return {"discriminator": self.discriminator_optimizer or default_d,
                "generator": self.generator_optimizer or default_g}

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        """Train on ``data["train"]`` with the shared loop; evaluate on ``data["validation"]``.

        Writes into the run: ``samples/epoch-NNN.png`` (the fixed noise batch after each epoch),
        ``samples/progress.gif``, ``samples/interpolation.png`` and ``gan_curves.png``.
        """
        from .imageset import as_image_set
        from .task import GANTask

        train = as_image_set(data["train"])
        validation = as_image_set(data["validation"]) if data.get("validation") is not None and len(data["validation"]) else None
        if len(train) == 0:
            raise ConfigError("the training split holds no images", "dataset")
        self.build(train.shape, train.classes if train.labels is not None else None, seed=run.seed)
        if validation is not None and validation.shape != train.shape:
            raise ConfigError(f"validation images are {validation.shape}, training images {train.shape}", "dataset")
        if validation is None:  # the loop needs something to evaluate on: a slice of the training images
            validation = train.subset(slice(0, min(len(train), self.eval_samples)))
        if self.quality and train.labels is not None and train.num_classes >= 2:
            from .quality import train_judge

            self.judge = train_judge(train.images, train.labels, train.num_classes, self.judge_epochs, seed=self.seed,
                                     device=run.device)
        task = GANTask(self, train, validation, seed=run.seed, batch_size=run.config.batch_size,
                       run_dir=Path(run.dir), write=run.is_main, resuming=run.resume)
        metrics = run.fit(task, optimizers=self._optimizers(run))
        if run.is_main:
            self._pictures(Path(run.dir))
        return metrics

    def _pictures(self, run_dir: Path) -> None:
        from .images import save_gif
        from .task import SAMPLES

        folder = run_dir / SAMPLES
        self.save_grid(folder / "final.png")
        frames = sorted(folder.glob("epoch-*.png")) + [folder / "final.png"]
        save_gif(frames, folder / "progress.gif")
        strip = self.interpolate(self.grid_seed, self.grid_seed + 1, steps=10)
        self.save_samples(strip, folder / "interpolation.png", nrow=len(strip))
        plot_gan_curves(_history(run_dir), run_dir / "gan_curves.png")

    # ------------------------------------------------------------ evaluation

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """On held-out real images: the discriminator's mean output on them (``d_real``) and on as many
        generated images (``d_fake``; D normalises each batch by its own statistics, as in training), both
        losses, and with a judge ``frechet_distance``, ``confident``, ``coverage``. ``loss`` (what picks the
        best checkpoint by default) is ``frechet_distance`` when there is a judge, else the generator's loss
        against the current discriminator."""
        import torch

        from nlpzoo_training import evaluating, on_device_of

        from .imageset import as_image_set
        from .nets import noise
        from .task import gan_losses, to_signed

        self._need_nets()
        real = as_image_set(examples)
        if len(real) == 0:
            return {}
        x = to_signed(real.images)  # (n, C, H, W) in [-1, 1], on the CPU
        y = self._labels_for(len(x))  # cycled through the classes, unless the images say theirs
        if self.num_classes and real.labels is not None:
            same = real.classes == self.classes
            y = torch.from_numpy(real.labels) if same else self._labels_for(len(x), [real.classes[i] for i in real.labels])
        z = noise(len(x), self.latent, seed=self.grid_seed + 7)
        with torch.no_grad(), evaluating(self.generator, self.discriminator), _batch_statistics(self.discriminator):
            x_on, y_on, z_on = next(on_device_of(self.generator, [(x, y, z)]))
            loss_d, loss_g, real_logits, fake_logits = gan_losses(self.generator, self.discriminator, x_on, y_on, z_on,
                                                                  self.loss)
        out = {"loss": float(loss_g), "loss_d": float(loss_d), "loss_g": float(loss_g),
               "d_real": float(torch.sigmoid(real_logits.float()).mean()),
               "d_fake": float(torch.sigmoid(fake_logits.float()).mean())}
        if self.judge is not None and real.shape == self.shape:
            from .quality import scores

            fake = torch.from_numpy(self.sample(self.eval_samples, seed=self.grid_seed + 11))
            out.update(scores(self.judge, fake, (x + 1.0) / 2.0))
            out["loss"] = out["frechet_distance"]
        return out

    # ------------------------------------------------------------ persistence

    def save_state(self, directory: Path) -> None:
        """The networks (and the judge) as safetensors, and ``learned.json``: image shape, classes, the
        seed the networks were drawn from, the grid's seed, and each weight file's sha256."""
        from nlpzoo.files import atomic_write, sha256_file
        from nlpzoo_training import save_weights

        self._need_nets()
        directory = Path(directory)
        nets = {GENERATOR: self.generator, DISCRIMINATOR: self.discriminator, JUDGE: self.judge}
        for name, net in nets.items():
            if net is not None:
                save_weights(net, directory / name)
        learned = {"shape": list(self.shape), "classes": self.classes, "seed": self.seed, "grid_seed": self.grid_seed,
                   "sha256": {name: sha256_file(directory / name) for name, net in nets.items() if net is not None}}
        atomic_write(directory / LEARNED, json.dumps(learned, indent=2) + "\n")

    def load_state(self, directory: Path) -> None:
        """Networks rebuilt for the saved shape and classes, weights checked against their sha256, then loaded."""
        from nlpzoo.files import sha256_file
        from nlpzoo_training import load_weights

        directory = Path(directory)
        learned = _read_learned(directory / LEARNED)
        self.build(learned["shape"], learned["classes"], seed=learned["seed"])
        self.grid_seed = learned["grid_seed"]
        nets = {GENERATOR: self.generator, DISCRIMINATOR: self.discriminator}
        if JUDGE in learned["sha256"]:
            from .quality import Judge

            c, h, _ = self.shape
            self.judge = nets[JUDGE] = Judge(c, h, len(self.classes or ()))
        for name, net in nets.items():
            path = directory / name
            expected = learned["sha256"].get(name)
            if path.is_file() and expected is not None and sha256_file(path) != expected:
                raise ConfigError(f"sha256 differs from the one recorded in {LEARNED}: the file was changed or damaged",
                                  file=str(path))
            load_weights(net, path)
            net.eval()


class CDCGAN(DCGAN):
    """A class-conditional DCGAN: ``sample(n, seed, labels)`` draws the classes asked for (by id or name).

    The generator appends a learned class embedding to z; the discriminator projects its last
    features on a learned class embedding (Miyato and Koyama, 2018) instead of reading one-hot maps.
    Needs labelled images. Parameters as ``dcgan``'s, without ``conditional``.
    """

    projection = True
    grid = 60  # ten classes, six samples of each

    def __init__(self, **options: Unpack[GanOptions]):
        super().__init__(conditional=True, **options)


def _read_learned(path: Path) -> dict:
    """``learned.json``, checked; one ConfigError naming the file otherwise."""
    try:
        learned = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"not a saved dcgan: {LEARNED} is missing", file=str(path)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable: {exc}", file=str(path)) from None
    ok = (isinstance(learned, dict) and isinstance(learned.get("shape"), list) and len(learned["shape"]) == 3
          and all(isinstance(s, int) for s in learned["shape"])
          and (learned.get("classes") is None or isinstance(learned["classes"], list))
          and isinstance(learned.get("seed"), int) and isinstance(learned.get("grid_seed"), int)
          and isinstance(learned.get("sha256"), dict))
    if not ok:
        raise ConfigError("expected shape [C, H, W], classes, seed, grid_seed and sha256; was it written by another "
                          "version?", file=str(path))
    return learned


@contextmanager
def _batch_statistics(net):
    """``net``'s batch norms use the statistics of each batch, as in training, and keep their running ones."""
    saved = {k: v.clone() for k, v in net.state_dict().items() if "running_" in k or "num_batches" in k}
    norms = [m for m in net.modules() if type(m).__name__.startswith("BatchNorm")]
    for m in norms:
        m.train()
    try:
        yield
    finally:
        for m in norms:
            m.eval()
        net.load_state_dict(saved, strict=False)


def _history(run_dir: Path) -> list[dict]:
    """The loop's training records (averages over ``train.log_every`` steps) from ``metrics.jsonl``."""
    from nlpzoo.runs import read_run_records

    return [row for row in read_run_records(run_dir) if "train_discriminator_loss" in row]


def plot_gan_curves(history: list[dict], path: Path) -> None:
    """Both losses (left) and the discriminator's mean output on real and on fake images (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nlpzoo_training import save_figure

    if not history:
        return
    steps = [r.get("step", i + 1) for i, r in enumerate(history)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=100)
    for key, label in (("train_discriminator_loss", "discriminator loss"), ("train_generator_loss", "generator loss")):
        left.plot(steps, [r.get(key, float("nan")) for r in history], label=label, linewidth=0.8)
    for key, label in (("train_d_real", "D(x), real"), ("train_d_fake", "D(G(z)), fake")):
        right.plot(steps, [r.get(key, float("nan")) for r in history], label=label, linewidth=0.8)
    left.set_title("losses")
    right.set_title("discriminator output")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.set_xlabel("step")
        ax.legend()
    save_figure(fig, path)
