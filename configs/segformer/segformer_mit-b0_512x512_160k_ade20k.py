_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
# ImageNet-pretrained MiT-B0 in MMSegmentation's layout. seglab does not download it: download the
# file and pass its local path, e.g. --cfg-options model.backbone.init_cfg.checkpoint=/path/mit_b0.pth
# (NVlabs' original mit_b0.pth loads too), or train from scratch with model.backbone.init_cfg=None.
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth'  # noqa
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(num_classes=150))

# AdamW; the decode head learns 10x faster, norms (and position blocks, which MiT has none of)
# get no weight decay.
optimizer = dict(
    _delete_=True,
    type='AdamW',
    lr=0.00006,
    betas=(0.9, 0.999),
    weight_decay=0.01,
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))

# 1500 iterations of linear warm-up from 1e-6 of the lr, then linear decay to 0.
lr_config = dict(
    _delete_=True,
    policy='poly',
    warmup='linear',
    warmup_iters=1500,
    warmup_ratio=1e-6,
    power=1.0,
    min_lr=0.0,
    by_epoch=False)

data = dict(samples_per_gpu=2, workers_per_gpu=2)
