"""The public surface is exactly what is meant to be public."""
import nlpzoo


def test_the_front_door_exports_exactly_these_names():
    assert nlpzoo.__all__ == sorted(nlpzoo.__all__)
    assert set(nlpzoo.__all__) == {
        "AssetError", "Augmenter", "Callback", "Classifier", "ConfigError", "Dataset", "Embedder", "GAN",
        "LanguageModel", "MissingDependency", "MultiLabelClassifier", "NlpzooError", "Optimizer", "Range", "Regressor", "Scheduler",
        "SequentialAugmenter", "Tagger", "UnknownComponent",
        "build", "components", "did_you_mean", "hookimpl", "load_recipe", "open_run", "resolve", "rng_for",
    }
    for name in nlpzoo.__all__:
        assert getattr(nlpzoo, name) is not None


def test_errors_subclass_the_builtins_callers_already_catch():
    assert issubclass(nlpzoo.UnknownComponent, KeyError)
    assert issubclass(nlpzoo.ConfigError, ValueError)
    assert issubclass(nlpzoo.MissingDependency, ImportError)


def test_the_testing_kit_moved_to_its_own_package_and_the_old_import_warns():
    import nlpzoo_testing
    import pytest

    with pytest.warns(DeprecationWarning, match="nlpzoo.testing moved to nlpzoo_testing"):
        from nlpzoo.testing import check_component
    assert check_component is nlpzoo_testing.check_component
