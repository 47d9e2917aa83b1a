"""What one evaluation can keep besides its metrics: the confusion matrix, every image's areas and
small copies of the predictions, so a report can show which classes are confused and which
images went best and worst without predicting anything again.

    details = EvalDetails(len(dataset), num_classes, ignore_index)
    for index, pred in ...:                       # each rank its own share of the images
        areas = dataset.pre_eval([pred], [index])[0]
        details.add(index, areas, pred, dataset.get_gt_seg_map_by_idx(index))
    details.reduce(all_reduce_sum)                # sums over ranks (the shares are disjoint)
    details.image_scores('Dice')                  # one score per image
    details.thumbnails([best, worst])             # PNG bytes of those this process evaluated

Costs per image: one ``bincount`` of the labelled pixels (the confusion matrix), a copy of the
four per-class areas, and a thumbnail of the prediction (at most ``thumb_side`` pixels a side,
PNG-compressed, so a few kB).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from seglab.errors import DataError


def confusion_matrix(pred: np.ndarray | torch.Tensor, label: np.ndarray | torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """``(num_classes, num_classes)`` pixel counts: row = label class, column = predicted class.

    Pixels labelled ``ignore_index`` and ids outside ``[0, num_classes)`` are left out, as in the
    metrics. A tensor prediction is counted on its device; arrays with numpy (no boolean
    indexing: out-of-range pixels go to an extra bin that is dropped, which is several times
    faster than masking).
    """
    if tuple(pred.shape) != tuple(label.shape):
        raise DataError(f"prediction of shape {tuple(pred.shape)} does not match the label of shape "
                        f"{tuple(label.shape)}")
    n = num_classes
    if isinstance(pred, torch.Tensor):
        p, lab = pred.long().flatten(), torch.as_tensor(label).to(pred.device).long().flatten()
        valid = (lab != ignore_index) & (lab >= 0) & (lab < n) & (p >= 0) & (p < n)
        codes = torch.where(valid, lab * n + p, n * n)
        return torch.bincount(codes, minlength=n * n + 1)[: n * n].reshape(n, n)
    p, lab = np.asarray(pred).astype(np.int64).ravel(), np.asarray(label).astype(np.int64).ravel()
    valid = (lab != ignore_index) & (lab >= 0) & (lab < n) & (p >= 0) & (p < n)
    codes = np.where(valid, lab * n + p, n * n)
    return torch.from_numpy(np.bincount(codes, minlength=n * n + 1)[: n * n].reshape(n, n))


def thumbnail(seg: np.ndarray, max_side: int) -> np.ndarray:
    """``seg`` shrunk by an integer stride (nearest neighbour, so class ids stay ids)."""
    step = max(1, -(-max(seg.shape[:2]) // max_side))
    return np.ascontiguousarray(seg[::step, ::step])


def image_scores(image_areas: np.ndarray, metric: str = "Dice") -> np.ndarray:
    """One score per image from its ``(4, num_classes)`` areas: the mean of ``'Dice'`` or ``'IoU'``
    over the classes present in its label or prediction (NaN for an image without counted pixels)."""
    inter, union, pred, label = np.moveaxis(np.asarray(image_areas, dtype=np.float64), 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "Dice":
            per_class = 2 * inter / (pred + label)
        elif metric == "IoU":
            per_class = inter / union
        else:
            raise ValueError(f"metric must be 'Dice' or 'IoU', got {metric!r}")
    present = ~np.isnan(per_class)
    counts = present.sum(1)
    sums = np.where(present, per_class, 0).sum(1)
    return np.divide(sums, counts, out=np.full(len(per_class), np.nan), where=counts > 0)


class EvalDetails:
    """Confusion matrix, per-image areas and prediction thumbnails of one evaluation.

    Args:
        num_images: images in the evaluated dataset (all ranks together).
        num_classes: number of classes.
        ignore_index: label id left out of the confusion matrix.
        thumb_side: longest side of the kept prediction thumbnails (0: keep none).
    """

    def __init__(self, num_images: int, num_classes: int, ignore_index: int = 255, thumb_side: int = 256) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.thumb_side = thumb_side
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        # (images, 4 areas, classes); rows of images another rank evaluated stay zero until all_reduce
        self.image_areas = torch.zeros(num_images, 4, num_classes, dtype=torch.float64)
        self._thumbs: dict[int, bytes] = {}

    def add(self, index: int, areas: Sequence, pred: np.ndarray, label: np.ndarray) -> None:
        """Record image ``index``: its ``pre_eval`` areas, its prediction and its label."""
        self.image_areas[index] = torch.stack([torch.as_tensor(a, dtype=torch.float64).cpu() for a in areas])
        self.confusion += confusion_matrix(pred, label, self.num_classes, self.ignore_index).cpu()
        if self.thumb_side > 0:
            import cv2

            dtype = np.uint8 if self.num_classes <= 256 else np.uint16  # PNG holds 8 or 16 bits
            ok, png = cv2.imencode(".png", thumbnail(np.asarray(pred).astype(dtype), self.thumb_side))
            if ok:
                self._thumbs[index] = png.tobytes()

    def reduce(self, all_reduce_sum: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Sum the confusion matrix and the per-image areas over ranks with ``all_reduce_sum``
        (each rank evaluated other images, so the sums are the whole dataset's)."""
        self.confusion = all_reduce_sum(self.confusion)
        self.image_areas = all_reduce_sum(self.image_areas)

    def image_scores(self, metric: str = "Dice") -> np.ndarray:
        """``image_scores(self.image_areas, metric)``."""
        return image_scores(self.image_areas.numpy(), metric)

    def thumbnails(self, indices: Sequence[int]) -> dict[int, bytes]:
        """The PNG-encoded prediction thumbnails of those ``indices`` this process evaluated."""
        return {i: self._thumbs[i] for i in indices if i in self._thumbs}
