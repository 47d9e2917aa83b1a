"""EncoderDecoder: building, training losses, whole/slide inference, flips and augmentations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads import FCNHead
from seglab.models.layers import resize
from seglab.models.segmentors import EncoderDecoder, slide_windows
from seglab.registry import MODELS


class TinyBackbone(nn.Module):
    """Two feature maps: full resolution (4 channels) and half resolution (8 channels)."""

    def __init__(self, in_channels: int = 3, pretrained: str | None = None) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.init_calls = 0
        self.conv1 = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)

    def init_weights(self) -> None:
        self.init_calls += 1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        a = self.conv1(x)
        return a, self.conv2(a)


class NoLoss(nn.Module):
    loss_name = "loss_none"


class MeanLossHead(FCNHead):
    """An FCNHead whose losses are simple functions of the logits (the loss package is not needed)."""

    def losses(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss_seg": seg_logit.mean(), "acc_seg": torch.tensor(50.0)}


def head_cfg(in_index: int = 1, in_channels: int = 8, num_classes: int = 3, **extra) -> dict:
    return dict(type=MeanLossHead, in_channels=in_channels, channels=4, in_index=in_index, num_convs=1,
                concat_input=False, num_classes=num_classes, dropout_ratio=0.0, norm_cfg=dict(type="BN"),
                loss_decode=dict(type=NoLoss), **extra)


def build(test_cfg=None, auxiliary_head=None, **kwargs) -> EncoderDecoder:
    torch.manual_seed(0)
    cfg = dict(type="EncoderDecoder", backbone=dict(type=TinyBackbone), decode_head=head_cfg(),
               auxiliary_head=auxiliary_head, test_cfg=test_cfg, **kwargs)
    return MODELS.build(cfg, key="model")


def meta(ori_shape, img_shape=None, flip=False, direction="horizontal") -> dict:
    img_shape = img_shape or ori_shape
    return dict(ori_shape=(*ori_shape, 3), img_shape=(*img_shape, 3), pad_shape=(*img_shape, 3),
                flip=flip, flip_direction=direction)


# ---------------------------------------------------------------- building
def test_attributes_come_from_the_decode_head():
    model = build()
    assert (model.num_classes, model.out_channels, model.align_corners) == (3, 3, False)
    assert not model.with_neck and not model.with_auxiliary_head
    assert model.test_cfg == {"mode": "whole"}


def test_pretrained_goes_to_the_backbone_and_loads_in_init_weights():
    model = build(pretrained="weights.pth")
    assert model.backbone.pretrained == "weights.pth" and model.backbone.init_calls == 0
    model.init_weights()
    assert model.backbone.init_calls == 1


def test_pretrained_twice_is_an_error():
    cfg = dict(type="EncoderDecoder", backbone=dict(type=TinyBackbone, pretrained="a.pth"),
               decode_head=head_cfg(), pretrained="b.pth")
    with pytest.raises(ConfigError, match="model.pretrained .* model.backbone.pretrained"):
        MODELS.build(cfg, key="model")


def test_child_errors_name_their_config_path():
    cfg = dict(type="EncoderDecoder", backbone=dict(type=TinyBackbone),
               decode_head=head_cfg(num_conv=2))
    with pytest.raises(ConfigError, match=r"model\.decode_head: .*'num_conv'.*Did you mean 'num_convs'"):
        MODELS.build(cfg, key="model")
    cfg = dict(type="EncoderDecoder", backbone=dict(type=TinyBackbone), decode_head=head_cfg(),
               auxiliary_head=[head_cfg(), head_cfg(bogus=1)])
    with pytest.raises(ConfigError, match=r"model\.auxiliary_head\.1: .*'bogus'"):
        MODELS.build(cfg, key="model")


@pytest.mark.parametrize("test_cfg, message", [
    (dict(mode="sliding"), "model.test_cfg.mode must be 'whole' or 'slide', got 'sliding'"),
    (dict(mode="slide", stride=(8, 8)), "needs model.test_cfg.crop_size"),
    (dict(mode="slide", crop_size=(8, 8), stride=(0, 8)), "model.test_cfg.stride must be a pair"),
])
def test_bad_test_cfg(test_cfg, message):
    with pytest.raises(ConfigError, match=message):
        build(test_cfg=test_cfg)


# ---------------------------------------------------------------- training
def batch(n: int = 2, size: tuple[int, int] = (12, 10)):
    torch.manual_seed(1)
    img = torch.randn(n, 3, *size)
    gt = torch.randint(0, 3, (n, 1, *size))
    return img, [meta(size) for _ in range(n)], gt


def test_forward_train_keys_with_one_auxiliary_head():
    model = build(auxiliary_head=head_cfg(in_index=0, in_channels=4))
    losses = model(*batch())
    assert sorted(losses) == ["aux.acc_seg", "aux.loss_seg", "decode.acc_seg", "decode.loss_seg"]
    x = model.extract_feat(batch()[0])
    assert torch.equal(losses["aux.loss_seg"], model.auxiliary_head(x).mean())
    assert torch.equal(losses["decode.loss_seg"], model.decode_head(x).mean())


def test_forward_train_keys_with_a_list_of_auxiliary_heads():
    model = build(auxiliary_head=[head_cfg(in_index=0, in_channels=4), head_cfg()])
    assert isinstance(model.auxiliary_head, nn.ModuleList)
    losses = model.forward_train(*batch())
    assert sorted(losses) == ["aux_0.acc_seg", "aux_0.loss_seg", "aux_1.acc_seg", "aux_1.loss_seg",
                              "decode.acc_seg", "decode.loss_seg"]
    sum(v for k, v in losses.items() if "loss" in k).backward()
    assert model.backbone.conv1.weight.grad is not None


def test_forward_needs_labels_for_losses():
    img, metas, _ = batch()
    with pytest.raises(ValueError, match="gt_semantic_seg"):
        build()(img, metas)


# ---------------------------------------------------------------- slide windows
def test_slide_windows_match_hand_computed_grid():
    windows = slide_windows(37, 53, (16, 16), (11, 11))
    rows = sorted({(y1, y2) for y1, y2, _, _ in windows})
    cols = sorted({(x1, x2) for _, _, x1, x2 in windows})
    assert rows == [(0, 16), (11, 27), (21, 37)]
    assert cols == [(0, 16), (11, 27), (22, 38), (33, 49), (37, 53)]
    assert len(windows) == 15 and windows[:2] == [(0, 16, 0, 16), (0, 16, 11, 27)]
    count = torch.zeros(37, 53)
    for y1, y2, x1, x2 in windows:
        count[y1:y2, x1:x2] += 1
    assert count.min() >= 1
    assert count[0, 0] == 1 and count[12, 40] == 4 and count[25, 5] == 2


def test_slide_windows_crop_larger_than_image():
    assert slide_windows(10, 12, (16, 16), (11, 11)) == [(0, 10, 0, 12)]
    assert slide_windows(16, 16, (16, 16), (11, 11)) == [(0, 16, 0, 16)]


class RelativeCoords(EncoderDecoder):
    """encode_decode returns each crop's coordinates relative to its top-left corner
    (channel 0: y - y1, channel 1: x - x1) and a constant 1 (channel 2)."""

    def encode_decode(self, img, img_metas):
        self.calls.append(tuple(img.shape))
        y, x = img[:, 0:1], img[:, 1:2]
        return torch.cat([y - y[:, :, :1, :1], x - x[:, :, :1, :1], torch.ones_like(y)], dim=1)


def coordinate_image(h: int, w: int, n: int = 1) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    return torch.stack([ys, xs, torch.zeros_like(ys)]).expand(n, 3, h, w).clone()


def reference_slide(h: int, w: int, crop: int, stride: int) -> torch.Tensor:
    """0.x's loop written out: one window at a time, padded into place, divided by the count."""
    preds, count = torch.zeros(3, h, w), torch.zeros(1, h, w)
    for h_idx in range(max(h - crop + stride - 1, 0) // stride + 1):
        for w_idx in range(max(w - crop + stride - 1, 0) // stride + 1):
            y2, x2 = min(h_idx * stride + crop, h), min(w_idx * stride + crop, w)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            ys = torch.arange(y1, y2, dtype=torch.float32)[:, None].expand(y2 - y1, x2 - x1) - y1
            xs = torch.arange(x1, x2, dtype=torch.float32)[None, :].expand(y2 - y1, x2 - x1) - x1
            window = torch.stack([ys, xs, torch.ones_like(ys)])
            preds += F.pad(window, (x1, w - x2, y1, h - y2))
            count[:, y1:y2, x1:x2] += 1
    return preds / count


def relative_model(crop: int, stride: int) -> RelativeCoords:
    model = MODELS.build(dict(type=RelativeCoords, backbone=dict(type=TinyBackbone), decode_head=head_cfg(),
                              test_cfg=dict(mode="slide", crop_size=(crop, crop), stride=(stride, stride))))
    model.calls = []
    return model.eval()


def test_slide_inference_averages_every_window_like_0x():
    model = relative_model(16, 11)
    out = model.slide_inference(coordinate_image(37, 53, n=2), [meta((37, 53))] * 2, rescale=False)
    assert model.calls == [(2 * 15, 3, 16, 16)]  # all windows of both images in one batch
    assert out.shape == (2, 3, 37, 53)
    assert torch.equal(out[0], reference_slide(37, 53, 16, 11)) and torch.equal(out[0], out[1])
    # by hand: y=12 lies in row windows starting at 0 and 11 -> (12 + 1) / 2; y=25 in 11 and 21 -> (14 + 4) / 2
    assert out[0, 0, 12, 0] == 6.5 and out[0, 0, 25, 0] == 9.0
    # x=40 lies in column windows starting at 33 and 37 -> (7 + 3) / 2
    assert out[0, 1, 0, 40] == 5.0
    assert torch.equal(out[:, 2], torch.ones(2, 37, 53))  # divided by exactly the coverage count


def test_slide_inference_crop_larger_than_image():
    model = relative_model(16, 11)
    img = coordinate_image(10, 12)
    out = model.slide_inference(img, [meta((10, 12))], rescale=False)
    assert model.calls == [(1, 3, 10, 12)]
    assert torch.equal(out[0, :2], img[0, :2])


def test_slide_inference_rescale_drops_padding_then_resizes():
    model = relative_model(16, 11)
    img = coordinate_image(37, 53)
    out = model.slide_inference(img, [meta((20, 25), img_shape=(30, 40))], rescale=True)
    full = model.slide_inference(img, [meta((37, 53))], rescale=False)
    assert torch.equal(out, resize(full[:, :, :30, :40], (20, 25), mode="bilinear", align_corners=False))


def test_slide_matches_per_window_forward_of_a_real_model():
    model = build(test_cfg=dict(mode="slide", crop_size=(8, 8), stride=(5, 5))).eval()
    img = torch.randn(1, 3, 13, 17)
    with torch.no_grad():
        out = model.slide_inference(img, [meta((13, 17))], rescale=False)
        preds, count = torch.zeros(1, 3, 13, 17), torch.zeros(1, 1, 13, 17)
        for y1, y2, x1, x2 in slide_windows(13, 17, (8, 8), (5, 5)):
            preds[:, :, y1:y2, x1:x2] += model.encode_decode(img[:, :, y1:y2, x1:x2], None)
            count[:, :, y1:y2, x1:x2] += 1
    assert torch.allclose(out, preds / count, atol=1e-6)


# ---------------------------------------------------------------- inference
class IdentityLogits(EncoderDecoder):
    """encode_decode returns the image itself as logits (3 classes)."""

    def encode_decode(self, img, img_metas):
        return img.clone()


def identity_model(**test_cfg) -> IdentityLogits:
    return MODELS.build(dict(type=IdentityLogits, backbone=dict(type=TinyBackbone), decode_head=head_cfg(),
                             test_cfg=test_cfg or None)).eval()


@pytest.mark.parametrize("direction, dim", [("horizontal", 3), ("vertical", 2)])
def test_inference_softmax_and_flip_back(direction, dim):
    model = identity_model()
    img = torch.randn(1, 3, 6, 7)
    probs = model.inference(img, [meta((6, 7), flip=True, direction=direction)], rescale=True)
    assert torch.allclose(probs, F.softmax(img, dim=1).flip(dims=(dim,)))
    assert torch.allclose(probs.sum(dim=1), torch.ones(1, 6, 7))


def test_whole_inference_rescale_drops_padding_then_resizes():
    model = identity_model()
    img = torch.randn(1, 3, 20, 24)
    out = model.whole_inference(img, [meta((9, 11), img_shape=(18, 22))], rescale=True)
    assert torch.equal(out, resize(img[:, :, :18, :22], (9, 11), mode="bilinear", align_corners=False))


def test_one_channel_head_uses_sigmoid_and_threshold():
    model = MODELS.build(dict(type=IdentityLogits, backbone=dict(type=TinyBackbone),
                              decode_head=head_cfg(num_classes=2, out_channels=1))).eval()
    assert model.out_channels == 1 and model.decode_head.threshold == 0.3
    logits = torch.tensor([[[[-2.0, -0.5], [0.0, 3.0]]]])  # sigmoid: 0.12, 0.38, 0.5, 0.95
    probs = model.inference(logits, [meta((2, 2))], rescale=False)
    assert torch.allclose(probs, logits.sigmoid())
    (pred,) = model.simple_test(logits, [meta((2, 2))])
    assert pred.tolist() == [[0, 1], [1, 1]]


@pytest.mark.parametrize("test_cfg", [dict(mode="whole"), dict(mode="slide", crop_size=(8, 8), stride=(6, 6))])
def test_simple_test_shapes(test_cfg):
    model = build(test_cfg=test_cfg).eval()
    img = torch.randn(2, 3, 16, 20)
    with torch.no_grad():
        preds = model.forward([img], [[meta((12, 15), img_shape=(16, 20))] * 2], return_loss=False)
        probs = model.inference(img, [meta((12, 15), img_shape=(16, 20))] * 2, rescale=True)
    assert len(preds) == 2 and all(p.shape == (12, 15) and p.dtype == np.int64 for p in preds)
    assert probs.shape == (2, 3, 12, 15)
    assert np.array_equal(preds[0], probs[0].argmax(0).numpy())


@pytest.mark.parametrize("test_cfg", [dict(mode="whole"), dict(mode="slide", crop_size=(8, 8), stride=(6, 6))])
def test_aug_test_averages_probabilities_of_all_scales_and_flips(test_cfg):
    model = build(test_cfg=test_cfg).eval()
    torch.manual_seed(2)
    base = torch.randn(1, 3, 16, 16)
    imgs = [base, resize(base, (24, 24), mode="bilinear", align_corners=False), base.flip(dims=(3,))]
    metas = [[meta((16, 16))], [meta((16, 16), img_shape=(24, 24))], [meta((16, 16), flip=True)]]
    with torch.no_grad():
        (pred,) = model.forward_test(imgs, metas)
        mean = sum(model.inference(i, m, rescale=True) for i, m in zip(imgs, metas)) / 3
    assert pred.shape == (16, 16)
    assert np.array_equal(pred, mean[0].argmax(0).numpy())


def test_an_image_and_its_flip_run_as_one_batch_of_windows():
    model = relative_model(16, 11)
    img = coordinate_image(37, 53)
    imgs, metas = [img, img.flip(dims=(3,))], [[meta((37, 53))], [meta((37, 53), flip=True)]]
    model.aug_test(imgs, metas)
    assert model.calls == [(2 * 15, 3, 16, 16)]  # both augmentations' windows in one pass
    single = relative_model(16, 11)
    separate = [single.inference(i, m, rescale=True) for i, m in zip(imgs, metas)]
    batched = model.inference(torch.cat(imgs), metas[0] + metas[1], rescale=True)
    assert torch.equal(batched[0], separate[0][0]) and torch.equal(batched[1], separate[1][0])


def test_channels_last_model_gets_channels_last_windows():
    model = build(test_cfg=dict(mode="slide", crop_size=(8, 8), stride=(5, 5))).eval()
    img = torch.randn(1, 3, 13, 17)
    with torch.no_grad():
        expected = model.slide_inference(img, [meta((13, 17))], rescale=False)
        model.to(memory_format=torch.channels_last)
        seen = []
        model.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous(
            memory_format=torch.channels_last)))
        out = model.slide_inference(img, [meta((13, 17))], rescale=False)
    assert seen == [True] and torch.allclose(out, expected, atol=1e-5)


def test_forward_test_checks_its_inputs():
    model = build().eval()
    img = torch.randn(1, 3, 8, 8)
    with pytest.raises(TypeError, match="imgs must be a list"):
        model.forward_test(img, [[meta((8, 8))]])
    with pytest.raises(ValueError, match="2 augmentations of imgs but 1"):
        model.forward_test([img, img], [[meta((8, 8))]])


# ---------------------------------------------------------------- 0.x runner steps
def test_train_step_returns_0x_outputs_without_stepping():
    model = build(auxiliary_head=head_cfg(in_index=0, in_channels=4))
    img, metas, gt = batch(n=3)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model.train_step(dict(img=img, img_metas=metas, gt_semantic_seg=gt), optimizer)
    assert set(out) == {"loss", "log_vars", "num_samples"} and out["num_samples"] == 3
    losses = model.forward_train(img, metas, gt)
    assert torch.allclose(out["loss"], losses["decode.loss_seg"] + losses["aux.loss_seg"])
    assert out["loss"].requires_grad
    assert list(out["log_vars"]) == ["decode.loss_seg", "decode.acc_seg", "aux.loss_seg", "aux.acc_seg", "loss"]
    assert all(isinstance(v, float) for v in out["log_vars"].values())
    assert out["log_vars"]["loss"] == pytest.approx(out["loss"].item())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the caller steps, as in 0.x


def test_val_step_suffixes_logged_keys():
    model = build()
    img, metas, gt = batch()
    out = model.val_step(dict(img=img, img_metas=metas, gt_semantic_seg=gt))
    assert sorted(out["log_vars"]) == ["decode.acc_seg_val", "decode.loss_seg_val", "loss_val"]
    assert out["num_samples"] == 2


def test_parse_losses_is_static_and_gives_floats():
    loss, log_vars = EncoderDecoder._parse_losses({"a.loss_x": torch.tensor(2.0, requires_grad=True),
                                                   "a.acc": torch.tensor(50.0),
                                                   "b.loss_y": [torch.tensor([1.0, 3.0]), torch.tensor(1.0)]})
    assert loss.item() == 5.0 and log_vars == {"a.loss_x": 2.0, "a.acc": 50.0, "b.loss_y": 3.0, "loss": 5.0}
