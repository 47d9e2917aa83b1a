"""``MultiScaleFlipAug``: test-time augmentation, one pipeline run per (scale, flip, direction).

Its output is a dict of lists with one entry per augmentation (``img``, ``img_metas``);
``seglab.data.collate`` turns a batch of them into ``img=[Tensor (N,3,H,W), ...]``,
``img_metas=[[dict, ...], ...]``.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from seglab.data.transforms.compose import Compose, build_transforms
from seglab.registry import config_error
from seglab.data.transforms.geometric import as_scale_list
from seglab.registry import TRANSFORMS


def _as_ratio_list(img_ratios: Any) -> list[float] | None:
    if img_ratios is None:
        return None
    ratios = img_ratios if isinstance(img_ratios, Sequence) else [img_ratios]
    if not ratios or not all(isinstance(r, (int, float)) and r > 0 for r in ratios):
        raise config_error(f"img_ratios must be a positive number or a list of them, got {img_ratios!r}")
    return [float(r) for r in ratios]


def _type_index(transforms: Sequence[Any]) -> dict[str, int]:
    return {t["type"]: i for i, t in enumerate(transforms) if isinstance(t, Mapping) and "type" in t}


@TRANSFORMS.register
class MultiScaleFlipAug:
    """Run ``transforms`` once per scale x flip x direction and return lists.

    Scales: ``img_scale`` (a ``(w, h)`` or a list); with ``img_ratios`` each ratio times
    ``img_scale``, or times the image's own size when ``img_scale`` is None. The chosen values
    are put in ``results['scale']``, ``['flip']`` and ``['flip_direction']`` for ``Resize`` and
    ``RandomFlip`` inside ``transforms``.

    Args:
        transforms: the per-augmentation transform configs.
        img_scale: ``(w, h)``, a list of them, or None (with ``img_ratios``).
        img_ratios: a ratio or a list of ratios.
        flip: also run each scale flipped.
        flip_direction: ``'horizontal'``, ``'vertical'`` or a list of them.
    """

    def __init__(self, transforms: Sequence[Mapping], img_scale: Any, img_ratios: Any = None,
                 flip: bool = False, flip_direction: str | Sequence[str] = "horizontal") -> None:
        types = _type_index(transforms)
        if flip and "RandomFlip" in types and "Pad" in types and types["Pad"] < types["RandomFlip"]:
            raise config_error("with flip=True, Pad must come after RandomFlip in transforms")
        self.transforms = Compose(build_transforms(transforms, "transforms"))
        self.img_ratios = _as_ratio_list(img_ratios)
        scales = as_scale_list(img_scale)
        if scales is None:
            if self.img_ratios is None:
                raise config_error("MultiScaleFlipAug needs img_scale, img_ratios or both")
            self.img_scale = None
        elif self.img_ratios is not None:
            if len(scales) != 1:
                raise config_error("img_ratios needs a single img_scale (w, h)")
            self.img_scale = [(int(scales[0][0] * r), int(scales[0][1] * r)) for r in self.img_ratios]
        else:
            self.img_scale = scales
        self.flip = flip
        self.flip_direction = [flip_direction] if isinstance(flip_direction, str) else list(flip_direction)
        for d in self.flip_direction:
            if d not in ("horizontal", "vertical"):
                raise config_error(f"flip_direction must be 'horizontal' or 'vertical', got {d!r}")
        if not flip and self.flip_direction != ["horizontal"]:
            warnings.warn("MultiScaleFlipAug: flip_direction has no effect when flip=False", stacklevel=2)
        if flip and "RandomFlip" not in types:
            warnings.warn("MultiScaleFlipAug: flip=True has no effect without RandomFlip in transforms",
                          stacklevel=2)

    def __call__(self, results: dict[str, Any]) -> dict[str, list]:
        if self.img_scale is None:
            h, w = results["img"].shape[:2]
            scales = [(int(w * r), int(h * r)) for r in self.img_ratios]
        else:
            scales = self.img_scale
        augs = []
        for scale in scales:
            for flip in ([False, True] if self.flip else [False]):
                for direction in self.flip_direction:
                    # A shallow copy: transforms replace arrays, they do not write into them.
                    one = dict(results, scale=scale, flip=flip, flip_direction=direction)
                    augs.append(self.transforms(one))
        return {key: [aug[key] for aug in augs] for key in augs[0]}

    def __repr__(self) -> str:
        return (f"MultiScaleFlipAug(transforms={self.transforms!r}, img_scale={self.img_scale}, "
                f"flip={self.flip}, flip_direction={self.flip_direction})")
