# The tutorial's "several losses" config: cross-entropy (weight 1) plus Dice (weight 3) on the
# decode head AND the auxiliary head (fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive.py, like
# MMSegmentation's file of that name, changes the decode head only).
_base_ = './fcn_unet_s5-d16_64x64_40k_drive.py'
model = dict(
    decode_head=dict(loss_decode=[dict(type='CrossEntropyLoss', loss_name='loss_ce', loss_weight=1.0),
                                  dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0)]),
    auxiliary_head=dict(loss_decode=[dict(type='CrossEntropyLoss', loss_name='loss_ce', loss_weight=1.0),
                                     dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0)]))
