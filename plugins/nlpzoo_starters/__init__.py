"""``nlpzoo init`` and ``nlpzoo new-plugin``: starter recipes and plugin packages, written from data files."""
