"""accuracy() and Accuracy: 0.x's top-k pixel accuracy in percent, with thresh and ignore_index."""
from __future__ import annotations

import pytest
import torch

from seglab.models.losses import Accuracy, accuracy

PRED = torch.tensor([[0.2, 0.3, 0.6, 0.5], [0.1, 0.1, 0.2, 0.6], [0.9, 0.0, 0.0, 0.1], [0.4, 0.7, 0.1, 0.1],
                     [0.0, 0.0, 0.99, 0.0]])
TRUE = torch.tensor([2, 3, 0, 1, 2])


def test_empty_prediction_reads_zero():
    assert Accuracy(topk=1)(torch.empty(0, 4), torch.empty(0)).item() == 0


@pytest.mark.parametrize("label, ignore_index, expected", [
    ([2, 3, 0, 1, 2], None, 100.0),
    ([2, 3, 1, 1, 2], 1, 100.0),   # the wrong prediction is on an ignored pixel
    ([2, 0, 0, 1, 2], 1, 75.0),    # one wrong of four counted
    ([2, 0, 0, 1, 2], 4, 80.0),    # an ignore_index no pixel has
    ([2, 2, 2, 2, 2], 2, 100.0),   # every pixel ignored: eps / eps
])
def test_top1_with_ignore_index(label, ignore_index, expected):
    acc = Accuracy(topk=1, ignore_index=ignore_index)(PRED, torch.tensor(label))
    assert acc.shape == (1,) and torch.allclose(acc, torch.tensor(expected))


def test_thresh_counts_only_confident_correct_predictions():
    assert torch.allclose(accuracy(PRED, TRUE, topk=1, thresh=0.8), torch.tensor(40.0))


def test_topk_and_several_ks():
    assert torch.allclose(accuracy(PRED, torch.tensor([3, 2, 0, 0, 2]), topk=2), torch.tensor(100.0))
    assert torch.allclose(accuracy(PRED, torch.tensor([3, 2, 0, 0, 2]), topk=1), torch.tensor(40.0))
    both = Accuracy(topk=(1, 2))(PRED, TRUE)
    assert isinstance(both, list) and len(both) == 2 and all(torch.allclose(a, torch.tensor(100.0)) for a in both)
    assert isinstance(Accuracy()(PRED, TRUE), list)  # the module's default topk is (1,)


def test_segmentation_maps_with_thresh_and_ignore_index():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 6, 7)
    label = torch.randint(0, 5, (2, 6, 7))
    label[0, :2] = 255
    probs = logits.softmax(1)
    flat_probs = probs.permute(0, 2, 3, 1).reshape(-1, 5)
    flat_label = label.reshape(-1)
    keep = flat_label != 255
    for thresh in (None, 0.3):
        got = accuracy(probs, label, topk=(1, 3), thresh=thresh, ignore_index=255)
        want = accuracy(flat_probs[keep], flat_label[keep], topk=(1, 3), thresh=thresh)
        assert all(torch.allclose(g, w) for g, w in zip(got, want))
    top1 = (probs.argmax(1) == label)[label != 255].float().mean() * 100
    assert torch.allclose(accuracy(probs, label, ignore_index=255), top1)


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError, match="maxk 5 exceeds pred dimension 4"):
        accuracy(PRED, TRUE, topk=5)
    with pytest.raises(TypeError, match="topk"):
        accuracy(PRED, TRUE, topk="wrong type")
    with pytest.raises(ValueError, match="do not match"):
        accuracy(PRED, torch.tensor([2, 3, 0, 1, 2, 0]))
    with pytest.raises(ValueError, match="do not match"):
        accuracy(PRED[:, :, None], TRUE)
