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
from nlpzoo.errors import ConfigError  # noqa: E402

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
    conv = gan.discriminator.main[2].weight
    assert abs(float(conv.std()) - 0.02) < 0.004 and abs(float(conv.mean())) < 0.004
    bn = gan.generator.main[1].weight
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
        "dcgan.json", "discriminator.safetensors", "generator.safetensors"]
    back = type(gan).load(tmp_path / "model")
    np.testing.assert_array_equal(back.sample(4, seed=2), gan.sample(4, seed=2))
    assert json.loads((tmp_path / "model" / "dcgan.json").read_text())["shape"] == [1, 28, 28]


# ---------------------------------------------------------------- pictures


def test_save_grid_and_gif(tmp_path):
    from PIL import Image

    from nlpzoo.images import make_grid, save_gif, save_grid

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


def test_judge_separates_real_digits(digits):
    from nlpzoo_dcgan.quality import scores, to_unit, train_judge

    train, held = digits["train"], digits["validation"]
    judge = train_judge(train.images, train.labels, 10, epochs=4, seed=0)
    real = scores(judge, to_unit(held.images), to_unit(train.images), labels=held.labels)
    noise = scores(judge, torch.rand(len(held), 1, 28, 28), to_unit(train.images))
    assert real["accuracy"] > 0.6
    assert real["fd"] < noise["fd"]


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
