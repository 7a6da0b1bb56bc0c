"""nlpzoo plugin: word2vec."""
