"""Registers the built-in datasets and the generic readers for your own data."""
import nlpzoo

PLUGIN_API = 2

BUILT_IN = {
    "rotten-tomatoes": ("RottenTomatoes", "Rotten Tomatoes review snippets, fresh vs rotten, duplicates removed (12,752).", ("text", "classification")),
    "polarity-200": ("Polarity200", "Pang and Lee's 200 labelled movie-review sentences (pos/neg): a smoke-test set.", ("text", "classification")),
    "wiki-extract": ("WikiExtract", "106 English Wikipedia articles from gensim's test data (about 453k tokens).", ("text", "corpus")),
    "lee": ("Lee", "The Lee news corpus from gensim's test data: 300 documents, about 60k words.", ("text", "corpus")),
    "conll2003": ("tagged:Conll2003", "CoNLL-2003 English named entities (PER/ORG/LOC/MISC), canonical 14,041/3,250/3,453 sentences.", ("text", "tagging")),
    "vader-ratings": ("VaderRatings", "Sentiment scores (-4..4, mean of ~10 raters) of movie, tweet, product or editorial snippets.", ("text", "regression")),
    "20ng-hierarchy": ("label_sets:Newsgroups20Hierarchy", "20 Newsgroups posts labelled with the parts of their group's name (comp, sys, mac, hardware): 33 labels.", ("text", "multi-label")),
    "hamlet": ("Hamlet", "Shakespeare's Hamlet (32k words, public domain) in chunks of lines.", ("text", "corpus")),
}
READERS = {
    "text-file": ("TextFile", "Plain text: one example per line, or the whole file as one; can stream.", ("text", "reader")),
    "csv": ("CsvFile", "CSV/TSV with a text column and an optional label column.", ("text", "reader")),
    "jsonl": ("JsonlFile", "JSON Lines with a text field and an optional label field; can stream.", ("text", "reader")),
    "parquet": ("ParquetFile", "Parquet with a text column and an optional label column (needs pyarrow).", ("text", "reader")),
    "conll": ("tagged:ConllFile", "CoNLL columns: one token a line, a chosen tag column (IOB2/IOB1), blank lines between sentences.", ("text", "reader", "tagging")),
    "tagged-jsonl": ("tagged:TaggedJsonl", "JSON Lines with a tokens list and a tags list per sentence (IOB2/IOB1).", ("text", "reader", "tagging")),
    "scored-csv": ("scored:ScoredCsv", "CSV/TSV with a text column and a numeric target column, for regressors.", ("text", "reader", "regression")),
    "snli-jsonl": ("pairs:SnliJsonl", "SNLI/MNLI JSON Lines: sentence1, sentence2, gold_label; pairs without a gold label skipped.", ("text", "reader", "pairs")),
    "stsb-tsv": ("pairs:StsbTsv", "STS-B TSV (GLUE layout): sentence1, sentence2 and a 0-5 score, for regressors.", ("text", "reader", "pairs", "regression")),
    "multilabel-jsonl": ("label_sets:MultiLabelJsonl", "JSON Lines with a text and a list of labels per object, for multi-label classifiers.", ("text", "reader", "multi-label")),
    "multilabel-csv": ("label_sets:MultiLabelCsv", "CSV/TSV with a text column and a column of labels joined by a separator (a bar), for multi-label classifiers.", ("text", "reader", "multi-label")),
    "text-folder": ("TextFolder", "A folder with one subfolder of text files per label (folder/<label>/*.txt).", ("text", "reader")),
}


@nlpzoo.hookimpl
def register_components(register):
    for name, (cls, summary, tags) in BUILT_IN.items():
        register("dataset", name, target=_target("datasets", cls), summary=summary, tags=tags)
    for name, (cls, summary, tags) in READERS.items():
        register("dataset", name, target=_target("readers", cls), summary=summary, tags=tags)


def _target(module: str, cls: str) -> str:
    """``module:Class``, or ``other_module:Class`` when ``cls`` names its own module."""
    module, _, cls = cls.rpartition(":") if ":" in cls else (module, ":", cls)
    return f"nlpzoo_datasets.{module}:{cls}"
