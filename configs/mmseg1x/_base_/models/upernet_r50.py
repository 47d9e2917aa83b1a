# The model of ../../../_base_/models/upernet_r50.py (the same in both dialects), with the 1.x
# data preprocessor: normalisation and batch padding, done by the pipeline's last steps in 0.x.
_base_ = '../../../_base_/models/upernet_r50.py'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(data_preprocessor=data_preprocessor)
