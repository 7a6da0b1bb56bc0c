"""Prints when imported, which would corrupt machine-readable output."""
import nlpzoo

print("hello from a chatty plugin")


@nlpzoo.hookimpl
def register_components(register):
    register("augmenter", "chatty", target="nlpzoo_hostile.prints:Chatty", summary="Does nothing.")


class Chatty(nlpzoo.Augmenter):
    def augment_one(self, text, rng):
        return text, []
