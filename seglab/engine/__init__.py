"""Engine: optimizer and lr schedules, checkpoints, distributed helpers and the trainer."""
from seglab.engine import checkpoint, dist, optimizer, schedules  # noqa: F401  (registration)
from seglab.engine.trainer import Trainer  # noqa: F401
