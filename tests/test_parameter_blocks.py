"""Parameters several components share are written once: ``**options: Unpack[Block]``, a TypedDict whose
keys are parameters like the others, typed and ranged by its annotations, defaulted by class attributes."""
from __future__ import annotations

from typing import Annotated, TypedDict, Unpack

import pytest

import nlpzoo
from nlpzoo import ConfigError, Range


class Sampling(TypedDict, total=False):
    """How a test component samples."""

    seed: int
    rate: Annotated[float, Range(0, 1)]


class Sampler(nlpzoo.Augmenter):
    seed, rate = 0, 0.1

    def __init__(self, width: int = 3, **options: Unpack[Sampling]):
        self.width = width
        for key, value in options.items():
            setattr(self, key, value)

    def augment_one(self, text, rng):
        return text, []


class WideSampler(Sampler):
    """Its own default for one key of the block, by class attribute; the signature is the parent's."""

    rate = 0.5


class _Plugin:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("augmenter", "sampler", target=f"{__name__}:Sampler", summary="Samples.")
        register("augmenter", "wide-sampler", target=f"{__name__}:WideSampler", summary="Samples more.")


@pytest.fixture
def zoo(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(_Plugin(), "blocks")
    return nlpzoo_isolated


def test_a_blocks_keys_are_parameters_with_the_classes_defaults(zoo):
    from nlpzoo.config import signature_of

    params = signature_of(Sampler).parameters
    assert list(params) == ["width", "seed", "rate"]
    assert params["rate"].default == 0.1 and signature_of(WideSampler).parameters["rate"].default == 0.5
    built = nlpzoo.build({"name": "sampler", "rate": 0.3}, "augmenter")
    assert (built.width, built.seed, built.rate) == (3, 0, 0.3)
    assert nlpzoo.build("wide-sampler", "augmenter").rate == 0.5


def test_a_blocks_annotations_check_values_and_unknown_keys_get_the_nearest_name(zoo):
    with pytest.raises(ConfigError, match=r"rate: expected 0 <= rate <= 1, got 2"):
        nlpzoo.resolve({"name": "sampler", "rate": 2}, "augmenter")
    with pytest.raises(ConfigError, match=r"raet: unknown parameter \(did you mean 'rate'\?\); parameters: width, seed, rate"):
        nlpzoo.resolve({"name": "sampler", "raet": 0.2}, "augmenter")


def test_info_lists_a_blocks_keys_like_any_parameter(zoo):
    from click.testing import CliRunner

    from nlpzoo.cli import cli

    out = CliRunner().invoke(cli, ["info", "wide-sampler"]).output
    assert "rate: float in [0, 1] = 0.5" in out and "seed: int = 0" in out


def test_the_file_readers_and_the_gans_share_their_blocks():
    from nlpzoo.config import signature_of
    from nlpzoo_dcgan.model import CDCGAN, DCGAN
    from nlpzoo_datasets.readers import CsvFile, JsonlFile, ParquetFile

    shared = {"seed", "validation", "test", "validation_path", "test_path", "limit", "train_limit", "max_record_bytes"}
    for reader in (CsvFile, JsonlFile, ParquetFile):
        assert shared <= set(signature_of(reader).parameters)
    assert "encoding" not in signature_of(ParquetFile).parameters
    dcgan, cdcgan = signature_of(DCGAN).parameters, signature_of(CDCGAN).parameters
    assert set(dcgan) - set(cdcgan) == {"conditional"} and len(cdcgan) == 18
    assert (dcgan["grid"].default, cdcgan["grid"].default) == (64, 60)
