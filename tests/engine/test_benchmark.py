"""seglab.engine.benchmark: what the measurements return (never how fast anything is)."""
from __future__ import annotations

from seglab.config import Config
from seglab.engine.benchmark import (benchmark_training, benchmark_variants, ratios_to_first,
                                     speedups_to_first, timed)


def test_timed_calls_the_step_once_per_iteration_in_order():
    seen = []
    times = timed(seen.append, 4)
    assert seen == [0, 1, 2, 3]
    assert len(times) == 4 and all(t >= 0 for t in times)


def test_benchmark_training_reports_step_and_end_to_end(small_config):
    cfg = Config.fromfile(small_config(workers=1))
    result = benchmark_training(cfg, iters=2, warmup=1)
    assert result["step_s"] > 0 and result["e2e_s"] > 0 and result["peak_rss_mb"] > 0
    assert result["batch_size"] == 2 and result["amp"] == "fp32" and result["device"] == "cpu"
    assert result["images_per_s"] == 2 / result["e2e_s"]


def test_benchmark_variants_interleaves_variants_and_gives_ratios_to_the_first(small_config):
    base = Config.fromfile(small_config())
    ohem = Config.fromfile(small_config("ohem.py"))
    ohem.model.decode_head.sampler = dict(type="OHEMPixelSampler", thresh=0.7, min_kept=10)
    results = benchmark_variants({"ce": base, "ohem": ohem}, iters=3, warmup=1)
    assert list(results) == ["ce", "ohem"]
    assert results["ce"]["ratio"] == 1.0
    assert all(r["step_s"] > 0 and r["ratio"] > 0 and r["iters"] == 3 for r in results.values())


def test_benchmark_variants_trains_every_variant(small_config, monkeypatch):
    # Each round must step each variant's own model: count optimizer steps per trainer.
    from seglab.engine import trainer as trainer_module

    steps: dict[int, int] = {}
    original = trainer_module.Trainer.run_step

    def counting(self, it, batch):
        steps[id(self)] = steps.get(id(self), 0) + 1
        return original(self, it, batch)

    monkeypatch.setattr(trainer_module.Trainer, "run_step", counting)
    cfg = Config.fromfile(small_config())
    benchmark_variants({"a": cfg, "b": cfg, "c": cfg}, iters=4, warmup=2)
    assert sorted(steps.values()) == [6, 6, 6]


def test_ratios_and_speedups_are_taken_round_by_round():
    # the machine slows down 2x after two rounds; b is always twice as fast as a in its round
    times = {"a": [1.0, 1.0, 2.0, 2.0, 2.0], "b": [0.5, 0.5, 1.0, 1.0, 1.0], "c": [1.0, 2.0, 2.0, 4.0, 1.0]}
    assert ratios_to_first(times) == {"a": 1.0, "b": 0.5, "c": 1.0}
    speedups = speedups_to_first(times)
    assert speedups["a"] == (1.0, 1.0, 1.0) and speedups["b"] == (2.0, 2.0, 2.0)
    q1, median, q3 = speedups["c"]  # per round 1, 0.5, 1, 0.5, 2
    assert median == 1.0 and q1 == 0.5 and q3 == 1.5
