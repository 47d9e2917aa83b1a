"""Losses (registered in ``MODELS``), ``parse_losses`` and 0.x's loss helpers; importing this package
registers the losses. ``CrossEntropyLoss1x`` and ``DiceLoss1x`` are MMSegmentation 1.x's variants, the
types a 1.x config's losses are translated to (docs/dialects.md)."""
from seglab.models.losses.accuracy import Accuracy, accuracy
from seglab.models.losses.cross_entropy import (CrossEntropyLoss, binary_cross_entropy, cross_entropy,
                                                mask_cross_entropy)
from seglab.models.losses.cross_entropy_1x import CrossEntropyLoss1x
from seglab.models.losses.dice import DiceLoss
from seglab.models.losses.dice_1x import DiceLoss1x
from seglab.models.losses.focal import FocalLoss
from seglab.models.losses.lovasz import LovaszLoss
from seglab.models.losses.parse import parse_losses
from seglab.models.losses.tversky import TverskyLoss
from seglab.models.losses.utils import (get_class_weight, load_class_weight, reduce_loss, weight_reduce_loss,
                                        weighted_loss)

__all__ = ["Accuracy", "CrossEntropyLoss", "CrossEntropyLoss1x", "DiceLoss", "DiceLoss1x", "FocalLoss",
           "LovaszLoss", "TverskyLoss", "accuracy", "binary_cross_entropy", "cross_entropy", "get_class_weight",
           "load_class_weight", "mask_cross_entropy", "parse_losses", "reduce_loss", "weight_reduce_loss",
           "weighted_loss"]
