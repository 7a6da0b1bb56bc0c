"""``nlpzoo neighbors``: nearest words in a trained embedder run or in pretrained vectors."""
from __future__ import annotations

import os

import click

import nlpzoo
from nlpzoo.commands import COUNT, echo, example, read_spec


@click.command(epilog=example("nlpzoo neighbors runs/w2v science -k 5"))
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("word")
@click.option("-k", default=10, show_default=True, type=COUNT)
def neighbors(run, word, k):
    """Nearest words to WORD in an embedder run, or in a pretrained embedder named like glove-6b-50d (cosine similarity)."""
    if os.path.isdir(run):
        embedder = nlpzoo.open_run(run).model_for("neighbors", "neighbors")
    else:  # a preset or spec of pretrained vectors: nothing to train first
        embedder = nlpzoo.build(nlpzoo.resolve(read_spec(run), "embedder", "RUN"))
    for w, s in embedder.neighbors(word, k):
        echo(f"{s:.4f}\t{w}")
