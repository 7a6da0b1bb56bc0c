"""Run pages and the commands that show runs: ``report``, ``runs`` and ``compare``."""
