"""Fixtures for engine tests: a tiny generated data set and a small UNet config training on it."""
from __future__ import annotations

from pathlib import Path

import pytest

SMALL_UNET_CONFIG = """\
norm_cfg = dict(type={norm!r}{norm_extra})
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(type='UNet', in_channels=3, base_channels=8, num_stages=3, strides=(1, 1, 1),
                  enc_num_convs=(2, 2, 2), dec_num_convs=(2, 2), downsamples=(True, True),
                  enc_dilations=(1, 1, 1), dec_dilations=(1, 1), norm_cfg=norm_cfg,
                  act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='InterpConv'), norm_eval=False),
    decode_head=dict(type='FCNHead', in_channels=8, in_index=2, channels=8, num_convs=1,
                     concat_input=False, dropout_ratio={dropout}, num_classes=2, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(type='FCNHead', in_channels=16, in_index=1, channels=8, num_convs=1,
                        concat_input=False, dropout_ratio={dropout}, num_classes=2, norm_cfg=norm_cfg,
                        align_corners=False,
                        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(24, 24)))
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
{augment}    dict(type='Normalize', **img_norm_cfg),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(48, 48), flip=False,
         transforms=[dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
                     dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
                     dict(type='Collect', keys=['img'])]),
]
split = dict(type='CustomDataset', data_root={data_root!r}, img_suffix='.png', seg_map_suffix='.png',
             classes=('background', 'vessel'), palette=[[0, 0, 0], [255, 0, 0]])
data = dict(
    samples_per_gpu={samples_per_gpu}, workers_per_gpu={workers},
    train=dict(split, img_dir='img_dir/train', ann_dir='ann_dir/train', pipeline=train_pipeline),
    val=dict(split, img_dir='img_dir/val', ann_dir='ann_dir/val', pipeline=test_pipeline),
    test=dict(split, img_dir='img_dir/val', ann_dir='ann_dir/val', pipeline=test_pipeline))
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optimizer_config = dict()
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False)
runner = dict(type='IterBasedRunner', max_iters={max_iters})
checkpoint_config = dict(by_epoch=False, interval={ckpt_interval})
evaluation = dict(interval={eval_interval}, metric='mIoU', pre_eval=True)
log_config = dict(interval={log_interval}, hooks=[dict(type='TextLoggerHook', by_epoch=False)])
seed = 0
"""

RANDOM_AUGMENT = """\
    dict(type='RandomCrop', crop_size=(32, 32), cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
"""
FIXED_AUGMENT = """\
    dict(type='Resize', img_scale=(32, 32), keep_ratio=False),
    dict(type='RandomFlip', prob=0.0),
"""


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from seglab.data.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("tiny"), num_train=8, num_val=2, size=(48, 48), seed=0)


@pytest.fixture
def small_config(tmp_path, tiny_dataset):
    """Write the small UNet config with the given settings; returns its path."""

    def write(name: str = "small_unet.py", *, norm: str = "BN", random_augment: bool = True,
              dropout: float = 0.1, samples_per_gpu: int = 2, workers: int = 0, max_iters: int = 4,
              ckpt_interval: int = 2, eval_interval: int = 4, log_interval: int = 2) -> Path:
        text = SMALL_UNET_CONFIG.format(
            norm=norm, norm_extra=", num_groups=4" if norm == "GN" else ", requires_grad=True",
            dropout=dropout, data_root=str(tiny_dataset),
            augment=RANDOM_AUGMENT if random_augment else FIXED_AUGMENT,
            samples_per_gpu=samples_per_gpu, workers=workers, max_iters=max_iters,
            ckpt_interval=ckpt_interval, eval_interval=eval_interval, log_interval=log_interval)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
