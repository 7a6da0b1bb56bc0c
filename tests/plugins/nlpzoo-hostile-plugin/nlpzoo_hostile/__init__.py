"""Misbehaving plugins, each in its own module."""
