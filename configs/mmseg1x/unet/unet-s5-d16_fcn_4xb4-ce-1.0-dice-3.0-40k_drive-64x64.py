# Cross-entropy (weight 1) plus Dice (weight 3) on the decode head. In this dialect DiceLoss is
# MMSegmentation 1.x's Dice (sigmoid, one Dice over all classes); seglab builds it as DiceLoss1x.
# Write type='DiceLoss0x' for the 0.x per-class softmax Dice (docs/dialects.md).
_base_ = './unet-s5-d16_fcn_4xb4-40k_drive-64x64.py'
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', loss_name='loss_ce', loss_weight=1.0),
        dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0)
    ]))
