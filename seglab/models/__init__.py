"""Models: backbones, heads, losses, pixel samplers and segmentors, all in ``MODELS``."""
from seglab.models import backbones, heads, layers, losses, samplers, segmentors  # noqa: F401
