# PSPNet-R50-D8 for speed measurements on a CPU: the Cityscapes model (19 classes) on DRIVE's
# images cut to 128x256 crops, batch 2, from random weights (the step's cost does not depend on
# the data or the weights). benchmarks/train_speed.py and profile_step.py take it like any config.
_base_ = [
    '../../configs/_base_/models/pspnet_r50-d8.py', '../../configs/_base_/datasets/drive.py',
    '../../configs/_base_/default_runtime.py', '../../configs/_base_/schedules/schedule_40k.py'
]
crop_size = (128, 256)
model = dict(pretrained=None, test_cfg=dict(mode='whole'))
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=2,
    train=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', img_scale=(584, 565), ratio_range=(0.5, 2.0)),
        dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
        dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
        dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img', 'gt_semantic_seg'])
    ])))
