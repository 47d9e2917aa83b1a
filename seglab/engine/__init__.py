"""Engine: run settings, optimizer and lr schedules, checkpoints, hooks, distributed helpers and the trainer."""
from seglab.engine import checkpoint, dist, ema, hooks, loggers, optimizer, report_hook, schedules  # noqa: F401  (registration)
from seglab.engine.trainer import Trainer  # noqa: F401
