"""losses.utils.one_hot: F.one_hot's values with classes first, without reading labels on the host."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seglab.models.losses.utils import one_hot


@pytest.mark.parametrize("shape", [(2, 5, 7), (3, 11)])
def test_one_hot_equals_torch_one_hot_with_classes_first(shape):
    label = torch.randint(0, 4, shape, generator=torch.Generator().manual_seed(0))
    expected = F.one_hot(label, 4).movedim(-1, 1).to(torch.float16)
    got = one_hot(label, 4, torch.float16)
    assert got.dtype == torch.float16 and got.shape == expected.shape
    assert torch.equal(got, expected)


def test_a_label_outside_the_classes_gives_an_all_zero_row():
    got = one_hot(torch.tensor([[0, 3, 255]]), 3, torch.float32)
    assert got[0, :, 0].tolist() == [1.0, 0.0, 0.0]
    assert got[0, :, 1].tolist() == [0.0, 0.0, 0.0] and got[0, :, 2].tolist() == [0.0, 0.0, 0.0]
