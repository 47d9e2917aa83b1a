_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/drive.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
# SegFormer-B0 trained from scratch on DRIVE with 64x64 crops, small enough for a 2-core CPU.
model = dict(
    decode_head=dict(num_classes=2),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(42, 42)))
optimizer = dict(
    _delete_=True,
    type='AdamW',
    lr=0.0006,
    betas=(0.9, 0.999),
    weight_decay=0.01,
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
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
