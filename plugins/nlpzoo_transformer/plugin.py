"""Registers the Transformer language model."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("language_model", "transformer-lm", target="nlpzoo_transformer.model:TransformerLanguageModel",
             summary="Decoder-only Transformer language model: pre-norm, causal attention, tied weights, sampling.",
             tags=("text", "generation", "transformer"))
