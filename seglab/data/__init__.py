"""Data: datasets (``DATASETS``), transforms (``TRANSFORMS``) and loaders."""
from seglab.data import datasets, transforms  # noqa: F401
