"""Registers the augment components."""
import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    pass
