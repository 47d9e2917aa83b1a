"""Pictures of segmentations: colour maps, overlays on the input image, PNG files.

Palettes are RGB (like a dataset's ``PALETTE``); images are BGR uint8 as OpenCV loads and
writes them, so ``overlay(cv2.imread(f), pred, dataset.PALETTE)`` can go straight to ``save_png``.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seglab.errors import DataError

Palette = Sequence[Sequence[int]] | np.ndarray


def default_palette(num_classes: int) -> list[list[int]]:
    """``num_classes`` distinct RGB colours, always the same (PASCAL VOC's bit-interleaved colour map).

    Class 0 is black, class 1 dark red (128, 0, 0), ...; the three lowest bits of the class id
    set the top bits of R, G and B, the next three the next bits, so all ids below 2**24 differ.
    """
    palette = []
    for index in range(num_classes):
        rgb = [0, 0, 0]
        value, shift = index, 7
        while value:
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
            if shift < 0:  # 24 bits used up: ids of 2**24 and more wrap around
                break
        palette.append(rgb)
    return palette


def _palette_array(palette: Palette) -> np.ndarray:
    array = np.asarray(palette)
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] == 0:
        raise DataError(f"a palette must be a non-empty list of [R, G, B] colours, got shape {array.shape}")
    if array.min() < 0 or array.max() > 255:
        raise DataError("palette colours must be in 0..255")
    return array.astype(np.uint8)


def _check_seg(seg: np.ndarray) -> np.ndarray:
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise DataError(f"a segmentation must be a 2-D map of class ids, got shape {seg.shape}")
    return seg.astype(np.int64, copy=False)


def colorize(seg: np.ndarray, palette: Palette) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB image: each pixel the palette colour of its class.

    Ids without a palette entry (e.g. 255, the usual ignore index) are black.
    """
    seg = _check_seg(seg)
    colors = _palette_array(palette)
    out = np.zeros((*seg.shape, 3), dtype=np.uint8)
    known = (seg >= 0) & (seg < len(colors))
    out[known] = colors[seg[known]]
    return out


def overlay(image: np.ndarray, seg: np.ndarray, palette: Palette, opacity: float = 0.5,
            ignore_index: int = 255) -> np.ndarray:
    """``image`` (BGR uint8, or grey) with ``seg`` drawn over it; returns a BGR uint8 image.

    Args:
        image: the input image as OpenCV loads it, ``(H, W, 3)`` BGR or ``(H, W)`` grey.
        seg: ``(H, W)`` class ids.
        palette: RGB colour per class.
        opacity: weight of the colour (0: image only, 1: colours only).
        ignore_index: pixels of this id, and ids without a palette entry, keep the image.
    """
    if not 0.0 <= opacity <= 1.0:
        raise DataError(f"opacity must be in [0, 1], got {opacity}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise DataError(f"image must be (H, W, 3) BGR or (H, W) grey, got shape {image.shape}")
    seg = _check_seg(seg)
    if seg.shape != image.shape[:2]:
        raise DataError(f"segmentation of shape {seg.shape} does not match the image of shape {image.shape[:2]}")
    colors_bgr = colorize(seg, palette)[..., ::-1].astype(np.float64)
    drawn = (seg != ignore_index) & (seg >= 0) & (seg < len(_palette_array(palette)))
    out = image.astype(np.float64)
    out[drawn] = out[drawn] * (1 - opacity) + colors_bgr[drawn] * opacity
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write ``image`` (BGR or grey uint8, as OpenCV expects) to ``path``, creating its folders."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise DataError(f"could not write the image {path}; is the extension one OpenCV can encode?")
    return path


def save_comparison_grid(path: str | Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                         palette: Palette, titles: tuple[str, str, str] = ("image", "ground truth", "prediction"),
                         ignore_index: int = 255) -> Path:
    """One PNG with a row per sample: the image (BGR), its labels and the prediction, side by side.

    Args:
        path: output file.
        rows: ``(image, ground_truth, prediction)`` per sample; labels as ``(H, W)`` class ids.
        palette: RGB colour per class (ignored label pixels are drawn white).
        titles: column titles.
        ignore_index: label value drawn white.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 3 * len(rows)), squeeze=False)
    for r, (image, gt, pred) in enumerate(rows):
        gt_rgb = colorize(np.where(gt == ignore_index, 0, gt), palette)
        gt_rgb[gt == ignore_index] = 255
        for c, picture in enumerate((np.asarray(image)[..., ::-1], gt_rgb, colorize(pred, palette))):
            axes[r, c].imshow(picture, interpolation="nearest")
            axes[r, c].set_axis_off()
            if r == 0:
                axes[r, c].set_title(titles[c])
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def training_sample_picture(sample: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(image BGR uint8, label (H, W))`` of one training-pipeline output, as the model sees it:
    the normalised image is mapped back to pixels with its ``img_norm_cfg``."""
    img = np.asarray(sample["img"], dtype=np.float64).transpose(1, 2, 0)
    norm = sample["img_metas"].get("img_norm_cfg") or {}
    img = img * np.asarray(norm.get("std", 1.0)) + np.asarray(norm.get("mean", 0.0))
    if norm.get("to_rgb"):
        img = img[..., ::-1]
    label = np.asarray(sample["gt_semantic_seg"]).reshape(img.shape[:2])
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


def save_label_grid(path: str | Path, items: list[tuple[np.ndarray, np.ndarray, str]], palette: Palette,
                    class_names: Sequence[str], ignore_index: int = 255, opacity: float = 0.5,
                    ignore_color: Sequence[int] = (255, 255, 255)) -> Path:
    """One PNG: each ``(image BGR, label, title)`` with its label drawn over it, and a legend.

    Args:
        path: output file.
        items: the pictures, drawn row by row.
        palette: RGB colour per class.
        class_names: legend names, one per palette colour.
        ignore_index: label value drawn in ``ignore_color`` (padding, unlabelled pixels).
        opacity: weight of the label colours over the image.
        ignore_color: RGB colour of ignored pixels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = [list(c) for c in _palette_array(palette)] + [list(ignore_color)]
    columns = int(np.ceil(np.sqrt(len(items))))
    rows = int(np.ceil(len(items) / columns))
    height = 2.3 * rows + 0.4  # 0.4 inch for the legend
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, height), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (image, label, title) in zip(axes.ravel(), items):
        seg = np.where(np.asarray(label) == ignore_index, len(colours) - 1, label)
        ax.imshow(overlay(image, seg, colours, opacity, ignore_index=-1)[..., ::-1], interpolation="nearest")
        ax.set_title(title, fontsize=7)
    handles = [Patch(color=np.asarray(c) / 255, label=name) for c, name in zip(colours, class_names)]
    handles.append(Patch(facecolor=np.asarray(ignore_color) / 255, edgecolor="grey", label=f"ignored ({ignore_index})"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
