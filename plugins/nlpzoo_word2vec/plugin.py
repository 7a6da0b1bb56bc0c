"""Registers the Word2Vec embedder and pretrained word vectors (GloVe)."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("embedder", "word2vec", target="nlpzoo_word2vec.models:Word2Vec",
             summary="Word2Vec skip-gram or CBOW word vectors trained with gensim; WordSim-353 and analogy scores.",
             tags=("text", "word-vectors", "gensim"))
    register("embedder", "word-vectors", target="nlpzoo_word2vec.vectors:WordVectors",
             summary="Pretrained word vectors (GloVe, word2vec files, a memory-mapped .npy matrix), never retrained.",
             tags=("text", "word-vectors", "pretrained"))


@nlpzoo.hookimpl
def register_commands(cli):
    from .command import neighbors

    cli.add_command(neighbors)
