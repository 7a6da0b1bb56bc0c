"""Registers the augment components: EDA, WordNet synonyms, model substitutions, character noise, pipelines."""
import nlpzoo

PLUGIN_API = 2

_COMPONENTS = [
    # name, module:class, summary, tags
    ("synonym-replacement", "eda:SynonymReplacement", "Replace words by WordNet 3.0 synonyms in the same inflection (EDA).", ("eda", "word", "wordnet")),
    ("random-insertion", "eda:RandomInsertion", "Insert synonyms of words of the sentence at random places (EDA).", ("eda", "word", "wordnet")),
    ("random-swap", "eda:RandomSwap", "Swap random pairs of words, punctuation kept in place (EDA).", ("eda", "word")),
    ("random-deletion", "eda:RandomDeletion", "Delete each word with a probability (EDA).", ("eda", "word")),
    ("eda", "eda:EDA", "Easy Data Augmentation (Wei and Zou, 2019): one of the four EDA operations per sentence.", ("eda", "word", "wordnet")),
    ("embedding-neighbors", "neural:EmbeddingNeighbors", "Replace words by nearest neighbours of an embedder or a trained run.", ("word", "embedding")),
    ("lm-substitution", "neural:LMSubstitution", "Replace words by what a trained language model proposes after the left context.", ("word", "language-model")),
    ("keyboard-typos", "chars:KeyboardTypos", "Replace characters by neighbouring QWERTY keys.", ("char", "noise")),
    ("char-swap", "chars:CharSwap", "Swap adjacent characters within words.", ("char", "noise")),
    ("char-insert", "chars:CharInsert", "Insert characters (neighbouring keys) into words.", ("char", "noise")),
    ("char-delete", "chars:CharDelete", "Delete characters from words.", ("char", "noise")),
    ("ocr-noise", "chars:OCRNoise", "OCR-style confusions such as rn->m, 0->o, l->1.", ("char", "noise")),
    ("sequential", "pipelines:Sequential", "Apply augmenters one after another.", ("pipeline",)),
    ("one-of", "pipelines:OneOf", "Apply one augmenter chosen at random with weights.", ("pipeline",)),
    ("sometimes", "pipelines:Sometimes", "Apply an augmenter with a probability.", ("pipeline",)),
]


@nlpzoo.hookimpl
def register_components(register):
    for name, target, summary, tags in _COMPONENTS:
        register("augmenter", name, target=f"nlpzoo_augment.{target}", summary=summary, tags=("text",) + tags)


@nlpzoo.hookimpl
def register_commands(cli):
    from .command import augment

    cli.add_command(augment)
