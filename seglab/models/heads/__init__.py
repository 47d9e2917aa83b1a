"""Decode heads; importing this package registers every head in ``MODELS``."""
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.fcn_head import FCNHead

__all__ = ["BaseDecodeHead", "FCNHead"]
