"""seglab: semantic-segmentation training on PyTorch, MMSegmentation 0.x compatible.

Importing the package registers every component (each subpackage imports its modules), so
``seglab.registry.MODELS.build(cfg.model)`` works after ``import seglab``.
"""
__version__ = "0.1.0"

from seglab import config, data, engine, evaluation, models  # noqa: E402,F401  (registration)
