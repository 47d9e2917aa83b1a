"""0.x's loss helpers: weighted_loss, weight_reduce_loss, get_class_weight; CrossEntropyLoss's repr."""
from __future__ import annotations

import json

import pytest
import torch

from seglab.models.losses import CrossEntropyLoss, get_class_weight, weight_reduce_loss, weighted_loss


@weighted_loss
def l1_loss(pred: torch.Tensor, target: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    return (pred - target).abs() * scale


def test_weighted_loss_adds_weight_reduction_and_avg_factor():
    pred, target, weight = torch.tensor([0.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(l1_loss(pred, target), torch.tensor(4 / 3))
    assert torch.allclose(l1_loss(pred, target, weight), torch.tensor(1.0))
    assert torch.equal(l1_loss(pred, target, reduction="none"), torch.tensor([1.0, 1.0, 2.0]))
    assert torch.allclose(l1_loss(pred, target, weight, avg_factor=2), torch.tensor(1.5))
    assert torch.allclose(l1_loss(pred, target, reduction="sum", scale=2.0), torch.tensor(8.0))
    assert l1_loss.__name__ == "l1_loss"


def test_weight_reduce_loss_avg_factor_rules():
    loss = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(weight_reduce_loss(loss, avg_factor=0.0), loss.sum() / torch.finfo(torch.float32).eps)
    assert torch.equal(weight_reduce_loss(loss, reduction="none", avg_factor=4), loss)
    with pytest.raises(ValueError, match="avg_factor"):
        weight_reduce_loss(loss, reduction="sum", avg_factor=4)


def test_get_class_weight_reads_lists_and_files(tmp_path):
    assert get_class_weight(None) is None
    assert get_class_weight([1, 2.5]) == [1.0, 2.5]
    (tmp_path / "w.json").write_text(json.dumps([0.5, 2.0]))
    assert get_class_weight(str(tmp_path / "w.json")) == [0.5, 2.0]


def test_cross_entropy_repr_is_0x_s():
    assert CrossEntropyLoss().extra_repr() == "avg_non_ignore=False"
    assert repr(CrossEntropyLoss(avg_non_ignore=True)) == "CrossEntropyLoss(avg_non_ignore=True)"


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_pickled_class_weight_is_data_only(tmp_path):
    import pickle

    import numpy as np

    from seglab.errors import DataError

    (tmp_path / "array.pkl").write_bytes(pickle.dumps(np.array([0.5, 2.0])))
    assert get_class_weight(str(tmp_path / "array.pkl")) == [0.5, 2.0]
    marker = tmp_path / "ran"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([RunsCode(marker), 1.0]))
    with pytest.raises(DataError, match=r"evil.pkl.*it imports builtins.exec"):
        CrossEntropyLoss(class_weight=str(tmp_path / "evil.pkl"))
    assert not marker.exists()
