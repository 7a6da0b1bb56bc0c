"""The shared training loop and run directories."""
