"""Entry point module: light, imports only nlpzoo."""
import nlpzoo

PLUGIN_API = 2  # the nlpzoo plugin API this plugin is written for


@nlpzoo.hookimpl
def register_components(register):
    register("augmenter", "shout", target="nlpzoo_example.components:Shout",
             summary="Upper-cases a share of the words, for emphasis.", tags=("example", "text"))
    register("scheduler", "triangle", target="nlpzoo_example.components:Triangle",
             summary="Cyclical triangular learning rate (Smith, 2017).", tags=("example",))
    register("language_model", "char-gru", target="nlpzoo_example.gru:CharGRU",
             summary="Character-level GRU language model on nlpzoo's shared loop.", tags=("example", "generation"))


@nlpzoo.hookimpl
def register_presets(register):
    register("shout-all", kind="augmenter", component="shout", params={"rate": 1.0},
             summary="Upper-cases every word.", tags=["example"])
