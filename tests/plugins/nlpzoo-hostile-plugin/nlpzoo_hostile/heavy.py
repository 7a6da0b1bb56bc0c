"""Imports torch at import time: every nlpzoo command would wait for it."""
import torch  # noqa: F401

import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    register("scheduler", "heavy-flat", target="nlpzoo_optim.schedulers:Constant", summary="Flat, slowly.")
