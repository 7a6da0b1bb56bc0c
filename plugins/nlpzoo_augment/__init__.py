"""nlpzoo plugin: augment."""
