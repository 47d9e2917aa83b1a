"""Size and load time of the run report of a long run, from a synthesized work dir.

    python benchmarks/report_size.py --out results/report_size.json [--data-root ../shared/data/DRIVE]

Training 4,000 iterations to get a report is not needed: the report is built from files, so this
script writes the files such a run leaves, with every trick on (head lr x10, OHEM on both heads,
class weights, CE + Dice):
- a JSON log of 4,000 / 50 = 80 train records and 8 val records (every 500 iterations);
- report/run.json, label_counts.json, eval.npz (the last evaluation's confusion matrix and
  per-image areas), picks.json and three overlays (256 px high, from DRIVE images when
  ``--data-root`` is given, else drawn);
- the resolved config next to the shipped one it came from.
Then it builds the page (``render_report``), and opens it in headless Chromium
(``seglab.report.browser.check_page``): page size, build time, load time (navigation start to
the load event) and the browser's wall time. ``--classes 19 --val-images 500`` gives a
Cityscapes-sized report. ``--smoke`` writes a short log, for CI; ``--no-browser`` skips Chromium.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seglab.config import Config  # noqa: E402
from seglab.report import data as rdata  # noqa: E402
from seglab.report.browser import check_page, find_chromium  # noqa: E402
from seglab.report.page import render_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py"


def synthesize(work_dir: Path, iters: int, classes: int, val_images: int, data_root: Path | None) -> None:
    """Write the files a run of ``iters`` iterations with all four tricks leaves in ``work_dir``."""
    rng = np.random.default_rng(0)
    names = ["background", "vessel"] if classes == 2 else [f"class_{i}" for i in range(classes)]
    work_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"env_info": "synthesized", "seed": 0, "exp_name": CONFIG.name})]
    for it in range(50, iters + 1, 50):
        f = (1 - it / (iters + 1)) ** 0.9
        ce = 0.6 * math.exp(-it / 1500) + 0.1 + 0.02 * rng.standard_normal()
        lines.append(json.dumps({
            "mode": "train", "epoch": 1, "iter": it, "lr": 0.01 * f, "lr_default": 0.01 * f, "lr_head": 0.1 * f,
            "memory": 900, "data_time": 0.01, "time": 0.6, "decode.loss_ce": ce, "decode.loss_dice": 3 * ce,
            "decode.acc_seg": 90 + it / 400, "decode.ohem_kept": 0.5 + 0.3 * math.exp(-it / 1000),
            "aux.loss_ce": 0.4 * ce, "aux.acc_seg": 89 + it / 400, "aux.ohem_kept": 0.6, "loss": 4.4 * ce}))
        if it % (iters // 8) == 0:
            scores = {f"{kind}.{n}": float(np.clip(0.5 + it / (3 * iters) + 0.1 * rng.standard_normal(), 0, 1))
                      for kind in ("Dice", "Acc") for n in names}
            lines.append(json.dumps({"mode": "val", "epoch": 1, "iter": it, "lr": 0.01 * f, "aAcc": 0.95,
                                     "mDice": float(np.mean([v for k, v in scores.items() if k[0] == "D"])),
                                     "mAcc": float(np.mean([v for k, v in scores.items() if k[0] == "A"])), **scores}))
    log = work_dir / "20240101_000000.log.json"
    log.write_text("\n".join(lines) + "\n")
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({"optimizer.paramwise_cfg": {"custom_keys": {"head": {"lr_mult": 10.0}}},
                         "model.decode_head.sampler": {"type": "OHEMPixelSampler", "thresh": 0.7, "min_kept": 100000},
                         "runner.max_iters": iters})
    cfg.dump(work_dir / CONFIG.name)
    data_dir = work_dir / rdata.REPORT_DIR
    weights = [round(float(w), 3) for w in rng.uniform(0.5, 5, classes)]
    rdata.write_json(data_dir / rdata.RUN_FILE, {
        "format": 1, "command": f"seglab train {CONFIG.relative_to(REPO)} --cfg-options ...",
        "config_file": str(CONFIG), "config_dump": CONFIG.name, "seglab_version": "0.1.0", "device": "cpu",
        "world_size": 1, "started": "2024-01-01 00:00:00", "started_unix": 0.0, "finished": "2024-01-01 00:40:00",
        "finished_unix": 2400.0, "start_iter": 0, "max_iters": iters, "last_iter": iters, "logs": [log.name],
        "log_interval": 50, "seed": 0, "eval_interval": iters // 8, "eval_metric": "mDice", "classes": names,
        "palette": [[0, 0, 0], [255, 0, 0]] if classes == 2 else [list(map(int, c)) for c in rng.integers(0, 255, (classes, 3))],
        "lr_rules": [{"rule": "default", "params": 66, "lr": 0.01, "weight_decay": 0.0005, "log_key": "lr_default"},
                     {"rule": "custom_keys['head']", "params": 10, "lr": 0.1, "weight_decay": 0.0005,
                      "log_key": "lr_head"}],
        "losses": [{"head": "decode", "key": "decode.loss_ce", "type": "CrossEntropyLoss", "loss_weight": 1.0,
                    "class_weight": weights},
                   {"head": "decode", "key": "decode.loss_dice", "type": "DiceLoss", "loss_weight": 3.0,
                    "class_weight": None},
                   {"head": "aux", "key": "aux.loss_ce", "type": "CrossEntropyLoss", "loss_weight": 0.4,
                    "class_weight": None}],
        "samplers": [{"head": h, "key": f"{h}.ohem_kept", "type": "OHEMPixelSampler", "thresh": 0.7,
                      "min_kept": 100000} for h in ("decode", "aux")]})
    counts = rng.integers(10_000, 10_000_000, classes)
    rdata.write_json(data_dir / rdata.LABELS_FILE, {"source": "synthesized", "samples": 64, "images": 20, "of": 20,
                                                    "classes": names, "counts": counts.tolist(), "stray": 0})
    confusion = rng.integers(0, 10_000, (classes, classes)) + np.diag(rng.integers(100_000, 1_000_000, classes))
    areas = rng.uniform(1_000, 50_000, (val_images, 4, classes))
    areas[:, 0] = areas[:, 1] * rng.uniform(0.3, 0.9, (val_images, classes))  # intersect below union
    rdata.save_evaluation(data_dir, iters, confusion, areas, [f"{i:02d}.png" for i in range(val_images)], names)
    picks = []
    for i, which in enumerate(("best", "median", "worst")):
        _overlay(data_dir / f"pick_{which}.jpg", data_root, i, rng)
        picks.append({"which": which, "index": i, "file": f"{i:02d}.png", "dice": 0.8 - 0.2 * i,
                      "image": f"pick_{which}.jpg", "iter": iters})
    rdata.write_json(data_dir / rdata.PICKS_FILE, picks)


def _overlay(path: Path, data_root: Path | None, index: int, rng: np.random.Generator) -> None:
    """Three 256-px-high panels, as the report hook writes them (JPEG, quality 85)."""
    import cv2

    images = sorted((data_root / "images/validation").glob("*.png")) if data_root else []
    if images:
        image = cv2.resize(cv2.imread(str(images[index])), (248, 256), interpolation=cv2.INTER_AREA)
    else:
        y, x = np.mgrid[0:256, 0:248]
        image = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
    labels = (rng.random((256, 248)) > 0.9)[..., None]
    gap = np.full((256, 4, 3), 255, np.uint8)
    panels = [image, gap, np.where(labels, [0, 0, 255], image).astype(np.uint8), gap,
              np.where(labels, [0, 255, 0], image).astype(np.uint8)]
    cv2.imwrite(str(path), np.hstack(panels), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--val-images", type=int, default=20)
    parser.add_argument("--data-root", type=Path, help="DRIVE, for real images in the overlays")
    parser.add_argument("--work-dir", type=Path, help="where to synthesize (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--smoke", action="store_true", help="a 400-iteration log (CI)")
    parser.add_argument("--no-browser", action="store_true", help="build the page only")
    args = parser.parse_args()
    iters = 400 if args.smoke else args.iters
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or Path(tmp) / "work"
        synthesize(work_dir, iters, args.classes, args.val_images, args.data_root)
        start = time.perf_counter()
        page = render_report(work_dir)
        build_s = time.perf_counter() - start
        result = {"iters": iters, "classes": args.classes, "val_images": args.val_images,
                  "page_bytes": page.stat().st_size, "build_s": round(build_s, 3)}
        if args.no_browser:
            result["browser"] = "not opened (--no-browser)"
        elif find_chromium():
            seen = check_page(page)
            result.update(load_ms=round(seen.load_ms, 1), browser_s=round(seen.browser_s, 3), images=seen.images,
                          broken=seen.broken, errors=seen.errors, sections=seen.sections)
        else:
            result["browser"] = "no Chromium on PATH: load time not measured"
    for key, value in result.items():
        print(f"{key:>12}: {value}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
