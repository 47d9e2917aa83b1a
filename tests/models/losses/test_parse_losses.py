"""parse_losses: the 0.x 'loss' substring rule, means, lists, detached tensors in log_vars."""
import pytest
import torch

from seglab.models.losses import parse_losses


def test_total_is_the_sum_of_keys_containing_loss():
    w = torch.tensor(2.0, requires_grad=True)
    losses = {
        "decode.loss_ce": torch.stack([w, w * 3]),            # mean 2w = 4
        "decode.loss_dice": [w * 1.0, torch.stack([w, w])],   # 2 + 2 = 4
        "decode.acc_seg": torch.tensor(80.0),
        "decode.dice": w * 10,                                # no 'loss' in the key: logged only
        "aux.my_loss": w,                                     # contains 'loss': optimised
    }
    total, log_vars = parse_losses(losses)
    assert total.item() == pytest.approx(4 + 4 + 2)
    total.backward()
    assert w.grad.item() == pytest.approx(2 + 2 + 1)
    assert list(log_vars) == ["decode.loss_ce", "decode.loss_dice", "decode.acc_seg", "decode.dice",
                              "aux.my_loss", "loss"]
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in log_vars.values())
    assert log_vars["decode.dice"].item() == pytest.approx(20.0)
    assert log_vars["loss"].item() == pytest.approx(10.0)


def test_no_loss_key_gives_a_zero_total_and_bad_values_fail():
    total, log_vars = parse_losses({"acc_seg": torch.tensor(50.0)})
    assert total.item() == 0.0 and log_vars["loss"].item() == 0.0
    with pytest.raises(TypeError, match="'loss_x' must be a tensor"):
        parse_losses({"loss_x": 1.0})
