"""``seglab infer CONFIG CHECKPOINT IMAGES... --out DIR``: predict masks for image files."""
from __future__ import annotations

import argparse
from pathlib import Path

from seglab.cli.options import add_config_arguments, config_from_args
from seglab.errors import DataError

COMMAND = "infer"
HELP = "predict segmentation masks (and overlays) for image files or folders"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("checkpoint", help="checkpoint file (seglab or MMSegmentation 0.x)")
    parser.add_argument("--unsafe-load", action="store_true",
                        help="read a checkpoint that imports more than tensors and plain values, unpickling it in "
                             "full: it can run any code it holds, so only for a file you trust")
    parser.add_argument("images", nargs="+", help="image files or folders of images")
    parser.add_argument("--out", required=True, help="output folder for <name>_mask.png and <name>_overlay.png")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (0..1)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")


def image_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"image {p} does not exist")
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {', '.join(paths)}")
    return files


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from seglab.engine.inference import inference_segmentor, init_segmentor
    from seglab.evaluation.visualize import default_palette, overlay, save_png

    cfg = config_from_args(args)
    files = image_files(args.images)
    model = init_segmentor(cfg, args.checkpoint, device=args.device, unsafe_load=args.unsafe_load)
    palette = model.PALETTE if model.PALETTE is not None else default_palette(model.decode_head.num_classes)
    out = Path(args.out)
    for path in tqdm(files, desc="infer", disable=len(files) < 2):
        mask = inference_segmentor(model, path)
        save_png(out / f"{path.stem}_mask.png", mask.astype("uint8"))
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        save_png(out / f"{path.stem}_overlay.png", overlay(image, mask, palette, args.opacity))
    print(f"wrote {2 * len(files)} files to {out}")
    return 0
