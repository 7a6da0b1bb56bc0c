"""nlpzoo plugin: datasets."""
