"""seglab.models.builder: 0.x's build_* functions and build_segmentor's train_cfg/test_cfg rule."""
from __future__ import annotations

import warnings

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models import builder
from seglab.models.heads import FCNHead
from seglab.models.losses import CrossEntropyLoss, DiceLoss
from seglab.models.segmentors import EncoderDecoder
from seglab.registry import MODELS

BACKBONE = dict(type="UNet", in_channels=3, base_channels=4, num_stages=2, strides=(1, 1), enc_num_convs=(1, 1),
                dec_num_convs=(1,), downsamples=(True,), enc_dilations=(1, 1), dec_dilations=(1,))
HEAD = dict(type="FCNHead", in_channels=4, channels=4, num_convs=1, num_classes=2)


def model_cfg(**extra) -> dict:
    return dict(type="EncoderDecoder", backbone=BACKBONE, decode_head=HEAD, **extra)


def test_registries_are_the_one_model_registry():
    assert builder.BACKBONES is builder.HEADS is builder.LOSSES is builder.NECKS is builder.SEGMENTORS is MODELS


def test_build_functions_build_through_the_registry():
    assert isinstance(builder.build_loss(dict(type="DiceLoss", loss_weight=3.0)), DiceLoss)
    assert isinstance(builder.build_head(HEAD), FCNHead)
    assert builder.build_backbone(BACKBONE)(torch.zeros(1, 3, 8, 8))[-1].shape[1] == 4
    assert builder.build_neck(None) is None
    with pytest.raises(ConfigError, match=r"loss: CrossEntropyLoss does not take the key 'loss_wieght'"):
        builder.build_loss(dict(type="CrossEntropyLoss", loss_wieght=1.0))
    assert isinstance(builder.build_loss(dict(type=CrossEntropyLoss)), CrossEntropyLoss)


def test_build_segmentor_takes_cfgs_from_the_model():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing deprecated used: no warning
        model = builder.build_segmentor(model_cfg(train_cfg=dict(), test_cfg=dict(mode="whole")))
    assert isinstance(model, EncoderDecoder) and model.train_cfg == {} and model.test_cfg == {"mode": "whole"}


def test_build_segmentor_uses_outer_cfgs_with_a_deprecation_warning():
    with pytest.warns(UserWarning, match="deprecated"):
        model = builder.build_segmentor(model_cfg(), train_cfg=dict(sampler=None), test_cfg=dict(mode="whole"))
    assert model.train_cfg == {"sampler": None} and model.test_cfg == {"mode": "whole"}
    with pytest.warns(UserWarning, match="deprecated"):
        model = builder.build_segmentor(model_cfg(test_cfg=dict(mode="whole")), train_cfg=dict(a=1))
    assert model.train_cfg == {"a": 1} and model.test_cfg == {"mode": "whole"}


@pytest.mark.parametrize("name", ["train_cfg", "test_cfg"])
def test_build_segmentor_refuses_a_cfg_given_both_outside_and_in_the_model(name):
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match=f"{name} is given both .* model.{name}"):
        builder.build_segmentor(model_cfg(**{name: dict(mode="whole")}), **{name: dict(mode="whole")})
