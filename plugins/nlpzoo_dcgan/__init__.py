"""nlpzoo plugin: dcgan."""
