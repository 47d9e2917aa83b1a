"""``seglab demo``: train a small UNet on a generated data set, evaluate it, draw the results.

No download: the data set (thin curved "vessels" on noisy textured backgrounds) is generated
into the work dir, next to the config the demo trains with, so the run can be repeated or
changed with ``seglab train WORK_DIR/demo_unet.py``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "demo"
HELP = "train a small UNet on generated data (about a minute on 2 CPU cores), evaluate, plot"

DEMO_CONFIG = """\
# seglab demo: a small UNet trained on a generated 2-class data set.
# Re-run with: seglab train {config_path}
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='UNet', in_channels=3, base_channels=16, num_stages=4, strides=(1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2), dec_num_convs=(2, 2, 2), downsamples=(True, True, True),
        enc_dilations=(1, 1, 1, 1), dec_dilations=(1, 1, 1), norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='InterpConv'), norm_eval=False),
    decode_head=dict(
        type='FCNHead', in_channels=16, in_index=3, channels=16, num_convs=1, concat_input=False,
        dropout_ratio=0.1, num_classes=2, norm_cfg=norm_cfg, align_corners=False,
        # two losses at once, each logged under its name
        loss_decode=[dict(type='CrossEntropyLoss', loss_name='loss_ce', loss_weight=1.0),
                     dict(type='DiceLoss', loss_name='loss_dice', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(48, 48)))

dataset_type = 'CustomDataset'
data_root = {data_root!r}
classes = ('background', 'vessel')
palette = [[40, 40, 40], [230, 60, 60]]
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale={img_scale!r}, flip=False,
         transforms=[dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
                     dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
                     dict(type='Collect', keys=['img'])]),
]
# a name starting with '_' is a helper of this file, not a setting
_split = dict(type=dataset_type, data_root=data_root, img_suffix='.png', seg_map_suffix='.png',
              classes=classes, palette=palette)
data = dict(
    samples_per_gpu=4, workers_per_gpu=2,
    train=dict(_split, img_dir='img_dir/train', ann_dir='ann_dir/train', pipeline=train_pipeline),
    val=dict(_split, img_dir='img_dir/val', ann_dir='ann_dir/val', pipeline=test_pipeline),
    test=dict(_split, img_dir='img_dir/val', ann_dir='ann_dir/val', pipeline=test_pipeline))

# the head learns 5x faster than the backbone (see: seglab lr-table {config_path})
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4,
                 paramwise_cfg=dict(custom_keys={{'head': dict(lr_mult=5.)}}))
optimizer_config = dict()
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False, warmup='linear',
                 warmup_iters=20, warmup_ratio=0.1)
runner = dict(type='IterBasedRunner', max_iters={iters})
checkpoint_config = dict(by_epoch=False, interval={iters})
evaluation = dict(interval={eval_interval}, metric=['mIoU', 'mDice'], pre_eval=True, save_best='mDice')
log_config = dict(interval=20, hooks=[dict(type='TextLoggerHook', by_epoch=False)])
seed = 0
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="work_dirs/demo", help="where data, logs and pictures go")
    parser.add_argument("--iters", type=int, default=400, help="training iterations")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")


def write_demo(work_dir: Path, iters: int) -> Path:
    """Generate the data set and write the demo config; returns the config path."""
    from seglab.data.synthetic import write_synthetic_dataset

    data_root = write_synthetic_dataset(work_dir / "data", seed=0)
    config_path = work_dir / "demo_unet.py"
    config_path.write_text(DEMO_CONFIG.format(config_path=config_path, data_root=str(data_root),
                                              img_scale=(96, 96), iters=iters,
                                              eval_interval=max(iters // 2, 1)))
    return config_path


def save_prediction_grid(model, dataset, path: Path, count: int = 4) -> Path:
    """The first ``count`` validation images with their labels and the model's predictions."""
    import cv2

    from seglab.data import collate
    from seglab.engine.evaluator import predict
    from seglab.evaluation.visualize import save_comparison_grid

    device = next(model.parameters()).device
    rows = []
    for i in range(min(count, len(dataset))):
        sample = collate([dataset[i]])
        image = cv2.imread(sample["img_metas"][0][0]["filename"], cv2.IMREAD_COLOR)
        rows.append((image, dataset.get_gt_seg_map_by_idx(i), predict(model, sample, device)[0]))
    return save_comparison_grid(path, rows, dataset.PALETTE)


def run(args: argparse.Namespace) -> int:
    from seglab.config import Config
    from seglab.data import build_dataset
    from seglab.engine import Trainer
    from seglab.engine.evaluator import evaluate_segmentor

    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = write_demo(work_dir, args.iters)
    cfg = Config.fromfile(str(config_path))
    trainer = Trainer(cfg, work_dir, progress=not args.no_progress)
    metrics = trainer.train()
    overlays = work_dir / "overlays"
    dataset = build_dataset(trainer.run.data.split("test"), default_args={"test_mode": True})
    evaluate_segmentor(trainer.model, dataset, metrics="mIoU", show_dir=overlays, progress=False)
    grid = save_prediction_grid(trainer.model, dataset, work_dir / "predictions.png")
    log = trainer.logger
    log.info(f"demo finished: mIoU {metrics.get('mIoU', float('nan')):.3f}, "
             f"mDice {metrics.get('mDice', float('nan')):.3f} on the generated validation images")
    log.info(f"curves: {work_dir / 'plots'}/")
    log.info(f"predictions next to the labels: {grid}; overlays: {overlays}/")
    log.info(f"checkpoint: {work_dir / 'latest.pth'}; config: {config_path}")
    return 0
