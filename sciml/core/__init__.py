"""The floor every other sciml package stands on: errors, registries, typed configs and safe file writes.

Nothing here imports torch or any other sciml package, so every module may import ``sciml.core``.

* ``errors``: ``SciMLError`` and its subclasses (one exception family for everything sciml rejects).
* ``registry``: ``Registry``, a name -> lazily imported factory table with the same verbs everywhere
  (``register``, ``available``, ``get``, ``check_config``, ``build``); models, generators, tasks and readers use it.
* ``config``: typed plain-data configs (``from_dict``, ``to_dict``, ``convert``, overrides, ``read_yaml``).
* ``files``: ``atomic_path``, all-or-nothing file writes.
"""

from sciml.core.config import (
    apply_overrides,
    convert,
    describe_value,
    dump_config,
    from_dict,
    parse_override,
    read_yaml,
    to_dict,
)
from sciml.core.errors import (
    CheckpointError,
    ConfigError,
    DataFormatError,
    GridError,
    InvalidValueError,
    SciMLError,
    ShapeError,
    TrainingDivergedError,
)
from sciml.core.files import atomic_path, clean_stale_temporaries
from sciml.core.registry import Registry, accepted_keys

__all__ = [
    "SciMLError",
    "ShapeError",
    "GridError",
    "InvalidValueError",
    "DataFormatError",
    "ConfigError",
    "CheckpointError",
    "TrainingDivergedError",
    "Registry",
    "accepted_keys",
    "from_dict",
    "to_dict",
    "convert",
    "describe_value",
    "parse_override",
    "apply_overrides",
    "read_yaml",
    "dump_config",
    "atomic_path",
    "clean_stale_temporaries",
]
