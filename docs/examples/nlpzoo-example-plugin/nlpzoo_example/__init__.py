"""An example nlpzoo plugin."""
