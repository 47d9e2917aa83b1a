# The heads learn 10x faster than the backbone: every parameter whose name contains 'head'
# (decode_head.* and auxiliary_head.*) gets lr = 10 * optimizer.lr. The rest of the base
# optimizer wrapper (SGD, lr 0.01, momentum 0.9, weight_decay 5e-4) is kept: dicts merge.
_base_ = './pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
