"""Registers one good component, then raises: the good one must not stay half-registered."""
import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    register("augmenter", "half-registered", target="nlpzoo_broken.bad_registration:Nothing", summary="Should vanish.")
    raise RuntimeError("registration exploded")
