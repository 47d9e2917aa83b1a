"""`seglab demo` (the quick start's main job) on a short schedule: it trains, evaluates and draws."""
from pathlib import Path

from seglab.cli import main
from seglab.config import Config

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_trains_evaluates_and_draws(tmp_path, capsys):
    work_dir = tmp_path / "demo"
    assert main(["demo", "--work-dir", str(work_dir), "--iters", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "demo finished: mIoU" in out
    for picture in ("predictions.png", "plots/loss.png", "plots/lr.png", "plots/metrics.png"):
        assert (work_dir / picture).read_bytes()[:8] == PNG, picture
    assert len(list((work_dir / "overlays").glob("*.png"))) == 8
    assert (work_dir / "latest.pth").is_file()
    # the config the demo wrote is a real config: it can be trained again as it is
    cfg = Config.fromfile(str(work_dir / "demo_unet.py"))
    assert cfg.runner.max_iters == 20 and Path(cfg.data.train.data_root).is_dir()
