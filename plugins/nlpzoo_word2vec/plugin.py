"""Registers the word2vec components."""
import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    pass
