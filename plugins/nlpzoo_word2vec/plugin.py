"""Registers the Word2Vec embedder."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("embedder", "word2vec", target="nlpzoo_word2vec.models:Word2Vec",
             summary="Word2Vec skip-gram or CBOW word vectors trained with gensim; WordSim-353 and analogy scores.",
             tags=("text", "word-vectors", "gensim"))
