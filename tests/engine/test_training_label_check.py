"""The label check at the start of training (``check_data``): 0/255 masks stop ``seglab train``
before the first iteration with the fix, ``check_data=False`` says the values are intended."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import pytest

from seglab.cli import main
from seglab.config import Config
from seglab.data.check import check_data_samples, sample_indices
from seglab.engine import Trainer
from seglab.errors import ConfigError


@pytest.fixture
def masks_0_255(tiny_dataset, tmp_path) -> Path:
    """The tiny data set with its 0/1 labels saved as 0/255."""
    root = tmp_path / "data255"
    shutil.copytree(tiny_dataset, root)
    for path in root.glob("ann_dir/*/*.png"):
        cv2.imwrite(str(path), cv2.imread(str(path), cv2.IMREAD_UNCHANGED) * 255)
    return root


def train(config: Path, work_dir: Path, data_root: Path, *options: str) -> int:
    return main(["train", str(config), "--work-dir", str(work_dir), "--no-progress", "--data-root", str(data_root),
                 *(["--cfg-options", *options] if options else [])])


def test_0_255_masks_stop_training_and_the_suggested_fix_trains(small_config, masks_0_255, tmp_path, capsys):
    config = small_config(max_iters=2, eval_interval=2)
    assert train(config, tmp_path / "stopped", masks_0_255) == 1
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if x]
    assert line.startswith("seglab train: error: 8 training label files checked before the first iteration")
    assert "'vessel' is never learned" in line and "check_data=False" in line
    assert not list((tmp_path / "stopped").glob("*.pth"))
    fix = re.findall(r"'(data\.\w+\.label_value_map=\{255: 1\})'", line)
    assert fix == ["data.train.label_value_map={255: 1}", "data.val.label_value_map={255: 1}",
                   "data.test.label_value_map={255: 1}"]
    assert train(config, tmp_path / "fixed", masks_0_255, *fix) == 0
    assert (tmp_path / "fixed" / "iter_2.pth").is_file()


def test_check_data_false_says_the_values_are_intended(small_config, masks_0_255, tmp_path):
    config = small_config(max_iters=1, eval_interval=0)
    assert train(config, tmp_path / "run", masks_0_255, "check_data=False") == 0


def test_check_data_key(small_config, tmp_path):
    assert check_data_samples(True) == 32 and check_data_samples(False) == check_data_samples(None) == 0
    assert check_data_samples(dict(samples=5)) == 5 and check_data_samples(dict()) == 32
    with pytest.raises(ConfigError, match="unknown key 'sample'. Did you mean 'samples'"):
        check_data_samples(dict(sample=5))
    with pytest.raises(ConfigError, match="non-negative integer"):
        check_data_samples(dict(samples=-1))
    cfg = Config.fromfile(str(small_config(max_iters=1, eval_interval=0)))
    cfg.check_data = "yes"
    with pytest.raises(ConfigError, match="check_data must be True, False or dict"):
        Trainer(cfg, tmp_path / "run", progress=False)


def test_sample_spreads_over_the_data_set():
    assert sample_indices(5, 32) == [0, 1, 2, 3, 4]
    assert sample_indices(100, 3) == [0, 50, 99]
