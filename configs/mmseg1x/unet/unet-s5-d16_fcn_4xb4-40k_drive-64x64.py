_base_ = [
    '../_base_/models/fcn_unet_s5-d16.py', '../_base_/datasets/drive.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (64, 64)
data_preprocessor = dict(size=crop_size)
# Slide inference with 64x64 windows (the training crop) overlapping by a third.
model = dict(data_preprocessor=data_preprocessor, test_cfg=dict(crop_size=(64, 64), stride=(42, 42)))
