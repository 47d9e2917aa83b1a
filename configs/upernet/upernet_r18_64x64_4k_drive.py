_base_ = [
    '../_base_/models/upernet_r50.py', '../_base_/datasets/drive.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
# UPerNet on a ResNet-18-V1c trained from scratch on DRIVE with 64x64 crops, with 128-channel heads:
# small enough for a 2-core CPU. Slide inference with the training crop, as the UNet's DRIVE config.
model = dict(
    pretrained=None,
    backbone=dict(depth=18),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=128, num_classes=2),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=2),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(42, 42)))
runner = dict(max_iters=4000)
checkpoint_config = dict(interval=1000)
evaluation = dict(interval=4000, metric='mDice')
data = dict(workers_per_gpu=2)
