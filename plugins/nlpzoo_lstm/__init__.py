"""nlpzoo plugin: lstm."""
