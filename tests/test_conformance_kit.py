"""The conformance kit fails a classifier that resumes differently or predicts by batch, and passes a sound one."""
from __future__ import annotations

import pytest

import nlpzoo

torch = pytest.importorskip("torch")

from nlpzoo_testing import check_component  # noqa: E402
from training_tasks import TinyTextModel, _Features  # noqa: E402


class _Drifting(_Features):
    """Skips every other step by a counter that lives on the Python object: a resumed run counts from 0 again."""

    def __init__(self, model, data):
        super().__init__(model, data)
        self.calls = 0

    def training_step(self, batch, stage):
        loss, logs = super().training_step(batch, stage)
        self.calls += 1
        return loss * (self.calls % 2), logs


class ForgetsOnResume(TinyTextModel):
    def fit(self, data, run):
        self.labels = sorted({e["label"] for e in data["train"]})
        self.net = torch.nn.Linear(3, len(self.labels))
        return run.fit(_Drifting(self, data))


class PredictsByBatch(TinyTextModel):
    """Centres the features on the batch's mean: a text's probabilities depend on its neighbours."""

    def predict_proba(self, texts):
        with torch.no_grad():
            x = torch.tensor([self.features(t) for t in texts])
            return torch.softmax(self.net(x - x.mean(0)), -1).numpy()


class _Models:
    @nlpzoo.hookimpl
    def register_components(self, register):
        for name, cls in (("sound", "TinyTextModel"), ("forgets-on-resume", "ForgetsOnResume"),
                          ("predicts-by-batch", "PredictsByBatch")):
            module = "training_tasks" if cls == "TinyTextModel" else "test_conformance_kit"
            register("classifier", name, target=f"{module}:{cls}", summary="A classifier for the kit's own tests.")


@pytest.fixture
def models(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(_Models(), "kit-models")
    return nlpzoo_isolated


def test_a_sound_classifier_passes(models):
    check_component("classifier", "sound")


def test_a_classifier_whose_resumed_run_differs_fails(models):
    with pytest.raises(AssertionError, match="stopped after step 3 and resumed must end as one never stopped"):
        check_component("classifier", "forgets-on-resume")


def test_a_classifier_whose_probabilities_depend_on_the_batch_fails(models):
    with pytest.raises(AssertionError, match="must not depend on the batch"):
        check_component("classifier", "predicts-by-batch")
