"""Segmentors; importing this package registers them in ``MODELS``."""
from seglab.models.segmentors.encoder_decoder import EncoderDecoder, slide_windows

__all__ = ["EncoderDecoder", "slide_windows"]
