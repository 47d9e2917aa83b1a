"""Shared test fixtures: paths to the repository, the reference files copied into tests/fixtures/ and the DRIVE data."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "configs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = REPO_ROOT.parent / "shared"
DRIVE_ROOT = SHARED / "data" / "DRIVE"


@pytest.fixture
def drive_root() -> Path:
    """The real DRIVE data set beside the checkout; tests needing it skip when it is absent."""
    if not (DRIVE_ROOT / "images" / "training").is_dir():
        pytest.skip(f"DRIVE data not found at {DRIVE_ROOT} (CI always has it; see README)")
    return DRIVE_ROOT


@pytest.fixture
def shared_docs() -> Path:
    docs = SHARED / "docs"
    if not docs.is_dir():
        pytest.skip(f"reference docs not found at {docs}")
    return docs


@pytest.fixture
def fixtures_dir() -> Path:
    """tests/fixtures: reference-numbers.json, reference-configs.md, state_dict_keys/*.txt."""
    return FIXTURES


@pytest.fixture
def configs_dir() -> Path:
    """The repository's shipped configs/ folder."""
    return CONFIGS


@pytest.fixture
def seglab_log(caplog):
    """caplog on the 'seglab' logger, which a trainer may have set not to propagate; each record
    is captured once, whether it propagates or not."""
    logger = logging.getLogger("seglab")
    logger.addHandler(caplog.handler)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield caplog
    logger.setLevel(old_level)
    logger.propagate = old_propagate
    logger.removeHandler(caplog.handler)
