"""Registers the built-in datasets and the generic readers for your own data."""
import nlpzoo

PLUGIN_API = 2

BUILT_IN = {
    "rotten-tomatoes": ("RottenTomatoes", "Rotten Tomatoes review snippets, fresh vs rotten, duplicates removed (12,752).", ("text", "classification")),
    "polarity-200": ("Polarity200", "Pang and Lee's 200 labelled movie-review sentences (pos/neg): a smoke-test set.", ("text", "classification")),
    "wiki-extract": ("WikiExtract", "106 English Wikipedia articles from gensim's test data (about 453k tokens).", ("text", "corpus")),
    "lee": ("Lee", "The Lee news corpus from gensim's test data: 300 documents, about 60k words.", ("text", "corpus")),
    "hamlet": ("Hamlet", "Shakespeare's Hamlet (32k words, public domain) in chunks of lines.", ("text", "corpus")),
}
READERS = {
    "text-file": ("TextFile", "Plain text: one example per line, or the whole file as one; can stream.", ("text", "reader")),
    "csv": ("CsvFile", "CSV/TSV with a text column and an optional label column.", ("text", "reader")),
    "jsonl": ("JsonlFile", "JSON Lines with a text field and an optional label field; can stream.", ("text", "reader")),
    "parquet": ("ParquetFile", "Parquet with a text column and an optional label column (needs pyarrow).", ("text", "reader")),
    "text-folder": ("TextFolder", "A folder with one subfolder of text files per label (folder/<label>/*.txt).", ("text", "reader")),
}


@nlpzoo.hookimpl
def register_components(register):
    for name, (cls, summary, tags) in BUILT_IN.items():
        register("dataset", name, target=f"nlpzoo_datasets.datasets:{cls}", summary=summary, tags=tags)
    for name, (cls, summary, tags) in READERS.items():
        register("dataset", name, target=f"nlpzoo_datasets.readers:{cls}", summary=summary, tags=tags)
