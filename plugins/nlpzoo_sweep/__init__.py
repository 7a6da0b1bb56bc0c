"""nlpzoo plugin: ``nlpzoo sweep``, a search over recipe keys (component names included) on Optuna."""
