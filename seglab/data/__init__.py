"""Data: datasets (``DATASETS``), transforms (``TRANSFORMS``) and loaders."""
from seglab.data import datasets, transforms  # noqa: F401  (registration)
from seglab.data.datasets import build_dataset
from seglab.data.loader import build_dataloader, collate, worker_init
from seglab.data.synthetic import write_synthetic_dataset

__all__ = ["build_dataloader", "build_dataset", "collate", "worker_init", "write_synthetic_dataset"]
