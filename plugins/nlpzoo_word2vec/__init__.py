"""nlpzoo plugin: Word2Vec word embeddings on gensim."""
