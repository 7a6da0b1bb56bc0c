"""The dcgan plugin never assumes the CPU: every tensor it hands a network is on that network's device,
and every result comes back with ``.cpu()`` before numpy.

Without an accelerator the device is simulated. Each network is replaced by a probe whose one
parameter lives on the ``meta`` device (so ``device_of`` says ``meta``) and which records the device
of every tensor it is given. Probes answer with :class:`OnDevice` tensors: real CPU values that report
the ``meta`` device, refuse ``numpy()`` until ``.cpu()`` brings them back, and refuse to meet a CPU
tensor in any operation, as a GPU tensor would.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nlpzoo  # noqa: E402
from nlpzoo_training import device_of  # noqa: E402

pytestmark = pytest.mark.slow  # every GAN on the simulated GPU

META = torch.device("meta")


class OnDevice(torch.Tensor):
    """A tensor standing for one on an accelerator."""

    @property
    def device(self):
        return META

    def numpy(self, *args, **kwargs):
        raise AssertionError("numpy() on a tensor that is still on the device; call .cpu() first")

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        leaves = torch.utils._pytree.tree_leaves((args, kwargs))
        stray = [t for t in leaves if type(t) is torch.Tensor and t.ndim > 0 and t.device.type == "cpu"]
        if stray:
            raise AssertionError(f"{getattr(func, '__name__', func)}: a CPU tensor of shape {tuple(stray[0].shape)} "
                                 "meets a tensor on the device")
        return super().__torch_function__(func, types, args, kwargs)


class Probe(torch.nn.Module):
    """Stands for a network on the device: checks and records where its inputs are, answers with zeros
    of ``shape(batch)`` on the device."""

    def __init__(self, shape):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.empty(1, device=META))
        self.shape, self.seen = shape, []

    def forward(self, *inputs):
        tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
        self.seen += [t.device for t in tensors]
        assert all(t.device == META for t in tensors), [t.device for t in tensors]
        return torch.zeros(self.shape(tensors[0].shape[0])).as_subclass(OnDevice)


class ProbeJudge(torch.nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.body, self.head = Probe(lambda b: (b, 64)), Probe(lambda b: (b, classes))


def on_probes(gan):
    """``gan`` with its generator, discriminator and judge replaced by probes on the simulated device."""
    c, h, w = gan.shape
    gan.generator, gan.discriminator = Probe(lambda b: (b, c, h, w)), Probe(lambda b: (b,))
    gan.judge = ProbeJudge(len(gan.classes))
    return gan


@pytest.fixture
def gan():
    tiny = {"latent": 8, "g_width": 4, "d_width": 4, "quality": False, "grid": 10, "eval_samples": 20}
    return on_probes(nlpzoo.build({"name": "cdcgan", **tiny}, "gan").build((1, 28, 28), [str(d) for d in range(10)]))


@pytest.fixture(scope="module")
def digits():
    return nlpzoo.build({"name": "mnist-5k", "limit": 100, "seed": 0}, "dataset").load()


def test_the_simulated_device_catches_the_mistakes_it_stands_for():
    probe = Probe(lambda b: (b, 3))
    with pytest.raises(AssertionError):
        probe(torch.zeros(2, 8))  # an input left on the CPU
    out = probe(torch.zeros(2, 8, device=META))
    with pytest.raises(AssertionError, match="call .cpu"):
        out.numpy()
    with pytest.raises(AssertionError, match="meets a tensor on the device"):
        out + torch.ones(2, 3)
    assert device_of(probe) == META and isinstance(out.cpu().numpy(), np.ndarray)


def test_noise_is_drawn_on_the_cpu_then_moved():
    from nlpzoo_dcgan.nets import noise

    torch.manual_seed(123)  # the global generator plays no part
    z = noise(4, 8, seed=5)
    expected = torch.randn(4, 8, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(z, expected, rtol=0, atol=0)
    moved = noise(4, 8, seed=5, device=META)
    assert moved.device == META and moved.shape == (4, 8)


def test_sampling_feeds_the_generator_on_its_device(gan, tmp_path):
    images = gan.sample(6, seed=0)
    assert isinstance(images, np.ndarray) and images.shape == (6, 1, 28, 28)
    assert gan.sample(3, seed=0, labels=["7"]).shape == (3, 1, 28, 28)
    assert gan.interpolate(1, 2, steps=4, label=3).shape == (4, 1, 28, 28)
    gan.save_grid(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").is_file()
    assert gan.generator.seen and set(gan.generator.seen) == {META}  # noise and labels alike


def test_evaluation_and_the_judge_work_on_the_networks_device(gan, digits):
    metrics = gan.evaluate(digits["validation"])
    assert {"loss_d", "loss_g", "d_real", "d_fake", "frechet_distance", "confident", "coverage"} <= set(metrics)
    for probe in (gan.generator, gan.discriminator, gan.judge.body, gan.judge.head):
        assert probe.seen and set(probe.seen) == {META}


def test_a_training_step_makes_no_tensor_of_its_own_on_the_cpu(gan, digits):
    """The loop moves each batch; the step's losses then never meet a CPU tensor."""
    from nlpzoo_dcgan.imageset import as_image_set
    from nlpzoo_dcgan.task import GANTask

    for loss in ("bce", "hinge"):
        gan.loss, gan.label_smoothing = loss, 0.1 if loss == "bce" else 0.0
        task = GANTask(gan, as_image_set(digits["train"]), None, seed=0, batch_size=8)
        batch = next(iter(task.train_batches(0)))
        assert all(t.device.type == "cpu" for t in batch)  # made on the CPU, as the loop expects
        on_device = tuple(t.to(META) for t in batch)  # what the loop does
        for stage in task.stages:
            value, logs = task.training_step(on_device, stage)
            assert value.device == META and all(v.device == META for v in logs.values())


def test_the_judge_trains_on_the_device_it_is_given(digits):
    from nlpzoo_dcgan.quality import train_judge

    train = digits["train"]
    judge = train_judge(train.images, train.labels, 10, epochs=1, device=META)
    assert device_of(judge) == META
