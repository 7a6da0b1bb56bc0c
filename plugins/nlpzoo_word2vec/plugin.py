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


@nlpzoo.hookimpl
def register_presets(register):
    """GloVe, read memory-mapped; its file is the catalogue's named ``weights`` entry ``glove-6b-50d``."""
    register("glove-6b-50d", kind="embedder", component="word-vectors", tags=("pretrained", "word-vectors", "glove"),
             weights={"param": "pretrained", "use": "glove-6b-50d"},
             summary="GloVe 6B word vectors (50-d, 400,000 uncased words, Wikipedia 2014 + Gigaword 5), read memory-mapped.")
