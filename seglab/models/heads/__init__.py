"""Decode heads; importing this package registers every head in ``MODELS``."""
from seglab.models.heads.aspp_head import ASPPHead
from seglab.models.heads.cascade_decode_head import BaseCascadeDecodeHead
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.fcn_head import FCNHead
from seglab.models.heads.psp_head import PSPHead
from seglab.models.heads.segformer_head import SegformerHead
from seglab.models.heads.sep_aspp_head import DepthwiseSeparableASPPHead
from seglab.models.heads.uper_head import UPerHead

__all__ = ["ASPPHead", "BaseCascadeDecodeHead", "BaseDecodeHead", "DepthwiseSeparableASPPHead", "FCNHead", "PSPHead",
           "SegformerHead", "UPerHead"]
