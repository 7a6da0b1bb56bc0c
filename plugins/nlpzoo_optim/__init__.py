"""Optimizers and learning-rate schedulers on top of ``torch.optim``."""
