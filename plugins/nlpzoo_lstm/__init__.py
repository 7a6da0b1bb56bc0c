"""nlpzoo plugin: the LSTM language model and text classifier."""
