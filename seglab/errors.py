"""Exceptions seglab raises for bad user input.

The CLI prints these as one clear message (no traceback unless ``--debug``); anything
else escaping is a bug in seglab and keeps its traceback.
"""


class SeglabError(Exception):
    """Base class of every error caused by user input (configs, files, arguments)."""


class ConfigError(SeglabError, ValueError):
    """A config file, a config value or an override is wrong; the message names it."""


class DataError(SeglabError, ValueError):
    """A data file is missing, unreadable or inconsistent; the message names the file."""


class CheckpointError(SeglabError, ValueError):
    """A checkpoint cannot be found or does not fit the model."""
