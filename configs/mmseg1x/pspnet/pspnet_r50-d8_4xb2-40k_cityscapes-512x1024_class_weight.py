# Class-balanced cross-entropy for the decode head: the 19 Cityscapes class weights used by DeepLab.
_base_ = './pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
model = dict(decode_head=dict(loss_decode=dict(
    type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
    class_weight=[0.8373, 0.9180, 0.8660, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                  0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507])))
