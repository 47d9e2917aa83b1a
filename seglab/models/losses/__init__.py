"""Losses (registered in ``MODELS``) and ``parse_losses``; importing this package registers them."""
from seglab.models.losses.cross_entropy import CrossEntropyLoss
from seglab.models.losses.dice import DiceLoss
from seglab.models.losses.focal import FocalLoss
from seglab.models.losses.lovasz import LovaszLoss
from seglab.models.losses.parse import parse_losses
from seglab.models.losses.tversky import TverskyLoss
from seglab.models.losses.utils import load_class_weight, weight_reduce_loss

__all__ = ["CrossEntropyLoss", "DiceLoss", "FocalLoss", "LovaszLoss", "TverskyLoss", "load_class_weight",
           "parse_losses", "weight_reduce_loss"]
