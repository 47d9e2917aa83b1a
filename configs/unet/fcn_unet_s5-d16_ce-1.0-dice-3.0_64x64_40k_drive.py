# Two losses on the decode head: cross-entropy (weight 1) plus Dice (weight 3), logged as
# decode.loss_ce and decode.loss_dice. The list replaces the base's single loss_decode dict.
_base_ = './fcn_unet_s5-d16_64x64_40k_drive.py'
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', loss_name='loss_ce', loss_weight=1.0),
        dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0)
    ]))
