"""Entry point module: light, imports only nlpzoo."""
import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    register("augmenter", "shout", target="nlpzoo_example.components:Shout",
             summary="Upper-cases a share of the words, for emphasis.", tags=("example", "text"))
    register("scheduler", "triangle", target="nlpzoo_example.components:Triangle",
             summary="Cyclical triangular learning rate (Smith, 2017).", tags=("example",))


@nlpzoo.hookimpl
def register_presets(register):
    register("shout-all", kind="augmenter", component="shout", params={"rate": 1.0},
             summary="Upper-cases every word.", tags=["example"])
