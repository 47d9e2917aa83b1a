"""BaseDecodeHead.losses: MMSegmentation 0.30 reference numbers, loss_decode by name, acc_seg,
ohem_kept, build-time checks and gradients."""
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.losses import DiceLoss, parse_losses
from seglab.registry import MODELS

LN2, LN3, LN4, LN43 = math.log(2), math.log(3), math.log(4), math.log(4 / 3)


# Read at collection time (the cases parametrize the test), so not through the fixtures_dir fixture.
CASES = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "reference-numbers.json")
                   .read_text())["heads"]


def make_inputs(inputs):
    """Exactly as reference-numbers.json's how_inputs_are_made says."""
    g = np.random.default_rng(inputs["seed"])
    n, c, h, w = inputs["shape"]
    logits = g.normal(0, 2, size=(n, c, h, w)).astype(np.float32)
    labels = g.integers(0, c, size=(n, 1, h, w))
    labels[g.random(size=labels.shape) < inputs["ignore_fraction"]] = 255
    return torch.from_numpy(logits), torch.from_numpy(labels)


def fcn(**overrides):
    cfg = dict(type="FCNHead", in_channels=4, channels=4, num_convs=1, num_classes=2)
    cfg.update(overrides)
    return MODELS.build(cfg)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_numbers(name):
    case = CASES[name]
    head = MODELS.build(case["head_cfg"])
    logits, labels = make_inputs(case["inputs"])
    losses = head.losses(logits, labels)
    for key, expected in case["losses"].items():
        assert losses[key].mean().item() == pytest.approx(expected, rel=1e-5, abs=1e-6), key
    if "ohem_kept_pixels" in case:
        valid = int((labels != 255).sum())
        assert round(losses["ohem_kept"].item() * valid) == case["ohem_kept_pixels"]
    else:
        assert "ohem_kept" not in losses
    assert set(losses) == set(case["losses"]) | ({"ohem_kept"} if "ohem_kept_pixels" in case else set())


def tiny_case():
    """2x2 image, 2 classes: a (0,0)/0 -> ln2; b (ln3,0)/0 -> ln4/3; c (ln3,0)/1 -> ln4; d ignored.
    Argmax (ties -> class 0) predicts class 0 everywhere: a, b right, c wrong -> acc 2/3."""
    logits = torch.tensor([[[[0.0, LN3], [LN3, 0.0]],
                            [[0.0, 0.0], [0.0, 0.0]]]])
    label = torch.tensor([[[[0, 0], [1, 255]]]])
    return logits, label


def test_losses_by_hand_with_ohem_and_same_names_added():
    head = fcn(loss_decode=[dict(type="CrossEntropyLoss", loss_weight=1.0),
                            dict(type="CrossEntropyLoss", loss_weight=0.5)],
               sampler=dict(type="OHEMPixelSampler", thresh=0.7, min_kept=2))
    losses = head.losses(*tiny_case())
    # OHEM keeps a and c (see tests/models/samplers); CE = (ln2 + ln4) / 4 pixels, added with weight 1 + 0.5.
    assert losses["loss_ce"].item() == pytest.approx(1.5 * (LN2 + LN4) / 4, rel=1e-6)
    assert losses["acc_seg"].item() == pytest.approx(100 * 2 / 3, rel=1e-5)
    assert losses["ohem_kept"].item() == pytest.approx(2 / 3)
    assert not losses["acc_seg"].requires_grad and not losses["ohem_kept"].requires_grad


def test_logits_are_resized_to_the_label_size():
    head = fcn()
    logits = torch.randn(2, 2, 4, 4)
    label = torch.randint(0, 2, (2, 1, 8, 8))
    resized = torch.nn.functional.interpolate(logits, size=(8, 8), mode="bilinear", align_corners=False)
    expected = torch.nn.functional.cross_entropy(resized, label.squeeze(1))
    assert head.losses(logits, label)["loss_ce"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradients_flow_through_losses_not_sampler_weights():
    head = fcn(sampler=dict(type="OHEMPixelSampler", thresh=0.7, min_kept=2))
    logits, label = tiny_case()
    logits.requires_grad_(True)
    total, log_vars = parse_losses(head.losses(logits, label))
    total.backward()
    kept = logits.grad.abs().sum(1)[0]
    assert kept[0, 0] > 0 and kept[1, 0] > 0               # a and c kept
    assert kept[0, 1] == 0 and kept[1, 1] == 0             # b dropped by OHEM, d ignored
    assert set(log_vars) == {"loss_ce", "acc_seg", "ohem_kept", "loss"}


def test_all_ignored_batch_with_ohem_has_zero_loss_and_no_nan():
    for thresh in (0.7, None):
        head = fcn(sampler=dict(type="OHEMPixelSampler", thresh=thresh, min_kept=2))
        logits = torch.randn(2, 2, 4, 4, requires_grad=True)
        losses = head.losses(logits, torch.full((2, 1, 4, 4), 255))
        assert losses["loss_ce"].item() == 0.0 and losses["ohem_kept"].item() == 0.0
        losses["loss_ce"].backward()
        assert torch.isfinite(logits.grad).all()


def test_name_without_loss_prefix_warns_once_and_is_not_optimised():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        head = fcn(loss_decode=[dict(type="CrossEntropyLoss", loss_name="loss_ce"),
                                dict(type="DiceLoss", loss_name="dice"),
                                dict(type="DiceLoss", loss_name="dice")])
    messages = [str(w.message) for w in caught if "loss_name" in str(w.message)]
    assert len(messages) == 1
    assert "'dice' will be logged but NOT optimised" in messages[0] and "FCNHead.loss_decode" in messages[0]
    losses = head.losses(*tiny_case())
    total, log_vars = parse_losses(losses)
    assert total.item() == pytest.approx(losses["loss_ce"].item())
    logits, label = tiny_case()
    assert log_vars["dice"].item() == pytest.approx(2 * DiceLoss()(logits, label.squeeze(1)).item(), rel=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fcn(loss_decode=dict(type="CrossEntropyLoss", loss_name="loss_ce"))
    assert not [w for w in caught if "loss_name" in str(w.message)]


def test_class_weight_length_is_checked_at_build_time():
    with pytest.raises(ConfigError) as err:
        MODELS.build(dict(type="FCNHead", in_channels=4, channels=4, num_convs=1, num_classes=3,
                          loss_decode=[dict(type="CrossEntropyLoss"),
                                       dict(type="CrossEntropyLoss", class_weight=[1.0, 2.0])]),
                     key="decode_head")
    message = str(err.value)
    assert "decode_head.loss_decode.1.class_weight has 2 values" in message
    assert "3 classes" in message
    with pytest.raises(ConfigError, match=r"^FCNHead\.loss_decode\.class_weight has 19 values.*2 classes"):
        fcn(loss_decode=dict(type="DiceLoss", class_weight=[1.0] * 19))
    # a one-channel sigmoid head takes one (pos_weight) value
    fcn(out_channels=1, loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=True, class_weight=[2.0]))


def test_sampler_config_errors_at_build_time():
    with pytest.raises(ConfigError, match="min_kept must be an integer > 1"):
        fcn(sampler=dict(type="OHEMPixelSampler", min_kept=1))


def test_losses_add_no_state_dict_keys():
    plain = fcn()
    weighted = fcn(loss_decode=[dict(type="CrossEntropyLoss", class_weight=[1.0, 2.0]),
                                dict(type="FocalLoss", class_weight=[1.0, 2.0])])
    assert list(plain.state_dict()) == list(weighted.state_dict())
    weighted.load_state_dict(plain.state_dict())


def test_one_channel_head_accuracy_uses_the_threshold():
    head = fcn(out_channels=1, loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=True))
    logits = torch.tensor([[[[2.0, -2.0], [-2.0, 2.0]]]])     # sigmoid > 0.3 -> [[1, 0], [0, 1]]
    label = torch.tensor([[[[1, 0], [1, 255]]]])
    assert head.losses(logits, label)["acc_seg"].item() == pytest.approx(100 * 2 / 3, rel=1e-5)


# ---------------------------------------------------------------- 0.x interface details
def test_extra_repr_and_init_weights_like_0x():
    head = fcn(ignore_index=7)
    assert head.extra_repr() == "input_transform=None, ignore_index=7, align_corners=False"

    class MyHead(type(head)):
        def init_weights(self):
            super().init_weights()
            torch.nn.init.constant_(self.conv_seg.bias, 0.5)

    model = MODELS.build(dict(type="EncoderDecoder", decode_head=dict(type=MyHead, in_channels=4, channels=4,
                                                                        num_convs=1, num_classes=2),
                              backbone=dict(type="UNet", in_channels=3, base_channels=4, num_stages=2,
                                            strides=(1, 1), enc_num_convs=(1, 1), dec_num_convs=(1,),
                                            downsamples=(True,), enc_dilations=(1, 1), dec_dilations=(1,))))
    weight = model.decode_head.conv_seg.weight.detach().clone()
    model.init_weights()
    assert torch.equal(model.decode_head.conv_seg.bias, torch.full((2,), 0.5))
    assert torch.equal(model.decode_head.conv_seg.weight, weight)  # the base init_weights changes nothing
