"""seglab's config system: MMSegmentation-0.x-style Python config files.

- ``Config.fromfile(path)``: load a file with its ``_base_`` files and ``{{_base_.x}}`` references.
- ``Config.merge_from_dict({'a.b': v})``: dotted overrides (``--cfg-options``), see ``overrides``.
- ``ConfigDict``: the dict with attribute access that every nested dict of a ``Config`` is.
- ``load_config(path, cfg_options, data_root)``: a file with ``--cfg-options`` and ``--data-root`` applied.
- ``DictAction``: the argparse action for ``--cfg-options KEY=VALUE ...``.

The merge rule shared by inheritance and overrides lives in ``merge``.
"""
from seglab.config.config import Config, load_config
from seglab.config.config_dict import ConfigDict
from seglab.config.overrides import DictAction

__all__ = ["Config", "ConfigDict", "DictAction", "load_config"]
