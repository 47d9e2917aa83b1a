"""docs/porting-0x.md's example: a head and a loss written for MMSegmentation 0.x, ported by
changing their imports only, register from a user package and train through seglab's Trainer."""
from __future__ import annotations

import difflib
import importlib
import json
import re
import sys
from pathlib import Path

import pytest
import torch

from seglab.config import Config
from seglab.engine import Trainer
from seglab.engine.inference import init_segmentor
from seglab.registry import MODELS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "porting-0x.md"
BLOCK = re.compile(r"```python\n# (my_seg/\S+) \((0\.x|seglab)\)\n(.*?)```", re.S)


def guide_files() -> dict[tuple[str, str], str]:
    """(file name, '0.x' or 'seglab') -> code, from the guide's python blocks."""
    return {(name, flavour): code for name, flavour, code in BLOCK.findall(GUIDE.read_text())}


def test_the_port_changes_import_lines_only():
    files = guide_files()
    for name in ("my_seg/heads.py", "my_seg/losses.py"):
        before, after = files[(name, "0.x")].splitlines(), files[(name, "seglab")].splitlines()
        changed = [line[1:] for line in difflib.unified_diff(before, after, lineterm="", n=0)
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        assert changed, name
        assert all(line.startswith(("from ", "import ")) or not line.strip() for line in changed), changed


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """Write the guide's seglab files as the package ``my_seg`` under tmp_path; undo its imports
    and registrations afterwards."""
    root = tmp_path / "user_code"
    for (name, flavour), code in guide_files().items():
        if flavour == "seglab":
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(code)
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.syspath_prepend(str(root))
    yield root
    for module in [m for m in sys.modules if m == "my_seg" or m.startswith("my_seg.")]:
        del sys.modules[module]


def ported_config(small_config) -> Config:
    cfg = Config.fromfile(str(small_config(max_iters=8, ckpt_interval=8, eval_interval=8, log_interval=1,
                                           random_augment=False, dropout=0.0)))
    cfg.custom_imports = dict(imports=["my_seg"], allow_failed_imports=False)
    cfg.model.decode_head = dict(
        type="GatedFusionHead", in_channels=[8, 16], in_index=[2, 1], input_transform="multiple_select",
        channels=8, num_convs=2, num_classes=2, dropout_ratio=0.0, norm_cfg=dict(type="BN"),
        align_corners=False,
        loss_decode=[dict(type="LabelSmoothingLoss", smoothing=0.1, class_weight=[1.0, 2.0], loss_name="loss_ls"),
                     dict(type="CrossEntropyLoss", loss_name="loss_ce", loss_weight=0.5)])
    return cfg


def test_ported_0x_head_and_loss_train_from_a_user_package(user_package, small_config, tmp_path):
    cfg = ported_config(small_config)  # custom_imports registers the package's head and loss
    work_dir = tmp_path / "run"
    trainer = Trainer(cfg, work_dir, progress=False)
    head = trainer.model.decode_head
    assert type(head).__name__ == "GatedFusionHead" and type(head.loss_decode[0]).__name__ == "LabelSmoothingLoss"
    assert torch.equal(head.convs[-1].bn.weight, torch.zeros(8))  # its init_weights ran, through the segmentor
    metrics = trainer.train()

    [log] = work_dir.glob("*.log.json")
    train = [r for r in map(json.loads, log.read_text().splitlines()) if r.get("mode") == "train"]
    assert len(train) == 8
    for record in train:
        for key in ("decode.loss_ls", "decode.loss_ce", "decode.acc_seg", "decode.gate_mean", "aux.loss_ce"):
            assert key in record, key
        assert record["loss"] == pytest.approx(record["decode.loss_ls"] + record["decode.loss_ce"]
                                               + record["aux.loss_ce"], rel=1e-4)  # gate_mean: logged only
    assert train[-1]["decode.loss_ls"] < train[0]["decode.loss_ls"]
    assert "mIoU" in metrics

    # the checkpoint reads back with the safe loader, under the head's own names
    model = init_segmentor(cfg, str(work_dir / "latest.pth"), device="cpu")
    assert "decode_head.lateral_convs.1.conv.weight" in model.state_dict()
    assert torch.equal(model.decode_head.gate.conv.weight, trainer.model.decode_head.gate.conv.weight)


def test_ported_loss_keeps_0x_reduction_semantics(user_package):
    importlib.import_module("my_seg")
    loss = MODELS.build(dict(type="LabelSmoothingLoss", smoothing=0.0, loss_weight=2.0))
    torch.manual_seed(0)
    logits, label = torch.randn(2, 3, 4, 5), torch.randint(0, 3, (2, 4, 5))
    label[0, 0] = 255
    ce = torch.nn.functional.cross_entropy(logits, label, ignore_index=255, reduction="none")
    assert torch.allclose(loss(logits, label), 2.0 * ce.mean())  # mean over every pixel, ignored ones too
    weight = torch.rand(2, 4, 5)
    assert torch.allclose(loss(logits, label, weight=weight, avg_factor=7.0, reduction_override="mean"),
                          2.0 * (ce * weight).sum() / (7.0 + torch.finfo(torch.float32).eps))
    assert loss(logits, label, reduction_override="none").shape == (2, 4, 5)
