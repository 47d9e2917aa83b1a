# Online hard example mining: the decode head's losses only count pixels whose ground-truth
# probability is below 0.7, keeping at least the 100000 hardest pixels per image.
_base_ = './pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
model = dict(decode_head=dict(sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000)))
