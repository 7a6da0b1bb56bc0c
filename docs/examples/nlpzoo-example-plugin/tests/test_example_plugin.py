"""The plugin author's own tests, using nlpzoo's conformance kit."""
from nlpzoo_testing import check_component, check_plugin
from nlpzoo_training import learning_rate_curve


def test_plugin_loads_and_registers_complete_metadata():
    check_plugin("example")


def test_shout_meets_the_augmenter_contract():
    shout = check_component("augmenter", "shout", {"rate": 0.5})
    assert shout.augment(["make some noise"], seed=3) == shout.augment(["make some noise"], seed=3)


def test_triangle_meets_the_scheduler_contract():
    triangle = check_component("scheduler", "triangle", {"period": 10})
    lrs = learning_rate_curve(triangle, 20, base_lr=1.0)
    assert max(lrs) == 1.0 and min(lrs) < 0.2


def test_char_gru_trains_on_the_shared_loop_and_keeps_the_language_model_contract():
    model = check_component("language_model", "char-gru", {"hidden": 16, "window": 16}, train={"epochs": 3})
    assert model.generate("the", max_tokens=10, seed=1).startswith("the")
