"""Registers the LSTM language model and the LSTM text classifier."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("language_model", "lstm-lm", target="nlpzoo_lstm.models:LSTMLanguageModel",
             summary="Multi-layer LSTM language model: tied weights, truncated BPTT, perplexity, sampling.",
             tags=("text", "generation", "lstm"))
    register("classifier", "lstm-classifier", target="nlpzoo_lstm.models:LSTMClassifier",
             summary="(Bi)LSTM text classifier with pooling; embeddings optionally from an embedder.",
             tags=("text", "classification", "lstm"))
