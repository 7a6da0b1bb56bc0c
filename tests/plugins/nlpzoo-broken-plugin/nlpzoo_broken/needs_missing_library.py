"""Imports a library that is not installed, as a plugin with a missing extra would."""
import nlpzoo_library_that_does_not_exist  # noqa: F401
