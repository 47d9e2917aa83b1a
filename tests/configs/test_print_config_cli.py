"""``seglab print-config``: prints the resolved config as loadable Python; errors are one line."""
from __future__ import annotations

from seglab.cli import main
from seglab.config import Config

UNET = "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py"


def test_prints_a_loadable_resolved_config_with_overrides(configs_dir, tmp_path, capsys):
    path = configs_dir.parent / UNET
    code = main(["print-config", str(path), "--cfg-options", "model.decode_head.num_classes=3",
                 "optimizer.lr=0.02", "train_pipeline.2.img_scale=(1024,512)", "data.train.times=7"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "_base_" not in out and out.startswith("norm_cfg = dict(type='SyncBN', requires_grad=True)\n")
    (tmp_path / "printed.py").write_text(out)
    printed = Config.fromfile(tmp_path / "printed.py")
    expected = Config.fromfile(path)
    expected.merge_from_dict({"model.decode_head.num_classes": 3, "optimizer.lr": 0.02,
                              "train_pipeline.2.img_scale": (1024, 512), "data.train.times": 7})
    assert printed.to_dict() == expected.to_dict()
    assert printed.model.decode_head.num_classes == 3 and printed.train_pipeline[2].img_scale == (1024, 512)


def test_missing_config_is_one_line_without_traceback(tmp_path, capsys):
    code = main(["print-config", str(tmp_path / "nope.py")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == f"seglab print-config: error: config file not found: {tmp_path / 'nope.py'}\n"
    assert "Traceback" not in err


def test_bad_override_path_is_one_line(configs_dir, capsys):
    code = main(["print-config", str(configs_dir.parent / UNET), "--cfg-options", "train_pipeline.12.type=X"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "train_pipeline.12: index 12 is out of range; train_pipeline has 10 item(s)" in err
