"""A decoder-only Transformer language model for nlpzoo."""
