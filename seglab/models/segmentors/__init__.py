"""Segmentors; importing this package registers them in ``MODELS``."""
from seglab.models.segmentors.cascade_encoder_decoder import CascadeEncoderDecoder
from seglab.models.segmentors.encoder_decoder import EncoderDecoder, slide_windows

__all__ = ["CascadeEncoderDecoder", "EncoderDecoder", "slide_windows"]
