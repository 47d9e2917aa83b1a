"""Models: backbones, heads, losses, pixel samplers and segmentors, all in ``MODELS``; ``builder`` holds
0.x's ``build_*`` functions."""
from seglab.models import backbones, builder, heads, layers, losses, samplers, segmentors, utils  # noqa: F401
