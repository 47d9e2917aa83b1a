"""The state_dict of each shipped model family has exactly MMSegmentation 0.x's names and shapes.

The expected lists (tests/fixtures/state_dict_keys/*.txt, copied from ../shared/docs/state-dict-keys)
were dumped from MMSegmentation 0.30 with norm layers as BN; SyncBN builds plain BatchNorm2d here
(no process group), which has the same entries. The SegFormer, UPerNet and Swin lists hold for 1.x too.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch

from seglab.config import Config
from seglab.registry import MODELS

FAMILIES = {
    "pspnet_r50-d8": "pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3_r50-d8": "deeplabv3/deeplabv3_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3plus_r50-d8": "deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.py",
    "fcn_unet_s5-d16": "unet/fcn_unet_s5-d16_64x64_40k_drive.py",
    "segformer_mit-b0": "segformer/segformer_mit-b0_512x512_160k_ade20k.py",
    "upernet_r50": "upernet/upernet_r50_512x1024_40k_cityscapes.py",
    "upernet_swin-t": "swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K.py",
}


def read_expected(path: Path) -> dict[str, tuple[int, ...]]:
    """``name (d0, d1, ...)`` per line after a header that ends with ``; N entries``."""
    header, *lines = path.read_text().splitlines()
    expected = {}
    for line in lines:
        name, shape = line.split(" ", 1)
        expected[name] = tuple(int(d) for d in re.findall(r"\d+", shape))
    count = int(re.search(r"(\d+) entries", header).group(1))
    assert len(expected) == count, f"{path.name}: header says {count} entries, file has {len(expected)}"
    return expected


def build_from_config(configs_dir: Path, relative: str) -> torch.nn.Module:
    cfg = Config.fromfile(str(configs_dir / relative))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyncBN -> BN on CPU
        # Shapes only: the meta device skips allocating and initialising ~45M parameters.
        with torch.device("meta"):
            return MODELS.build(cfg.model, key="model")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_state_dict_names_and_shapes(family, configs_dir, fixtures_dir):
    expected = read_expected(fixtures_dir / "state_dict_keys" / f"{family}.txt")
    model = build_from_config(configs_dir, FAMILIES[family])
    got = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    wrong = sorted(f"{n}: {got[n]} != {expected[n]}" for n in set(got) & set(expected) if got[n] != expected[n])
    assert not (missing or unexpected or wrong), (
        f"{family}: missing {missing[:10]} ({len(missing)}), unexpected {unexpected[:10]} "
        f"({len(unexpected)}), wrong shapes {wrong[:10]} ({len(wrong)})")
