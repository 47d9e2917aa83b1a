_base_ = [
    '../_base_/models/upernet_swin.py', '../_base_/datasets/drive.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
# UPerNet on Swin-T trained from scratch on DRIVE with 64x64 crops (16x16 tokens: windows of 7 on
# a map padded to 21x21), with 128-channel heads; the AdamW recipe of the ADE20K config with a
# 10x larger lr and a shorter warm-up for the short schedule. Slide inference with the training crop.
model = dict(
    backbone=dict(drop_path_rate=0.1),
    decode_head=dict(channels=128, num_classes=2),
    auxiliary_head=dict(channels=64, num_classes=2),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(42, 42)))
optimizer = dict(
    _delete_=True,
    type='AdamW',
    lr=0.0006,
    betas=(0.9, 0.999),
    weight_decay=0.01,
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
lr_config = dict(
    _delete_=True,
    policy='poly',
    warmup='linear',
    warmup_iters=200,
    warmup_ratio=1e-6,
    power=1.0,
    min_lr=0.0,
    by_epoch=False)
runner = dict(max_iters=4000)
checkpoint_config = dict(interval=1000)
evaluation = dict(interval=4000, metric='mDice')
data = dict(workers_per_gpu=2)
