"""Storing task arguments and results losslessly in SQLite columns.

What a task returns comes back equal from the store:

- ``int`` (64-bit) and finite ``float``: native INTEGER and REAL (fast, and SQL can
  sort and sum them);
- ``str``, ``bool``, ``None``, non-finite floats, and lists and dicts (string keys)
  made only of those: JSON text (``NaN``, ``Infinity`` and ``-Infinity`` included, so
  ``nan`` stays distinct from ``None``, which is SQL NULL);
- anything else (tuples, complex numbers, numpy scalars and arrays with their dtype
  and shape, sets, any picklable object): a BLOB, ``b"P"`` and a pickle (protocol 5:
  a 10 MiB array is 10 MiB, no JSON detour).

Why in the database and not as files beside it: a result is then committed in the
same transaction as its row (commit before count holds for it too), a run stays one
file to copy, and a Raspberry Pi's SD card sees one sequential write stream instead
of a file and an fsync per task. The cost is WAL's second write of each page at
checkpoint, so results are capped (``MAX_RESULT_BYTES``); larger data belongs in files
the task writes itself, with their path as the result.

Stores written before this scheme hold JSON text only, and decode unchanged.
"""
from __future__ import annotations

import json
import pickle
from typing import Any, NamedTuple, Optional

PICKLED = b"P"
MAX_RESULT_BYTES = 256 << 20   # a larger result fails its task with a clear line


class ValueNotStorable(ValueError):
    """A task's value cannot be stored (unpicklable, or larger than the limit)."""


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return repr(obj)


def _json_exact(value: Any, depth: int = 0) -> bool:
    """True when JSON gives ``value`` back equal and of the same types."""
    kind = type(value)
    if kind is str or kind is bool or value is None or kind is int or kind is float:
        return True
    if depth > 50:
        return False
    if kind is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def encode(value: Any, limit: Optional[int] = MAX_RESULT_BYTES) -> Any:
    """A value for an SQLite column (see the module's docstring); raises
    :class:`ValueNotStorable` naming the type and the reason."""
    kind = type(value)
    if kind is int:
        if -(1 << 63) <= value < (1 << 63):
            return value
    elif kind is float:
        if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
            return value
    if value is None:
        return None
    if _json_exact(value):
        return json.dumps(value, allow_nan=True)
    try:
        blob = PICKLED + pickle.dumps(value, protocol=5)
    except Exception as exc:  # what pickle raises varies by type
        raise ValueNotStorable(f"of type {kind.__name__} cannot be stored: {exc}") from None
    if limit is not None and len(blob) > limit:
        raise ValueNotStorable(f"of type {kind.__name__} is {len(blob) / 2**20:.1f} MiB, "
                               f"over the {limit / 2**20:.0f} MiB a stored value may be; "
                               "write large data to a file and return its path")
    return blob


def decode(value: Any) -> Any:
    """The value :func:`encode` was given."""
    if isinstance(value, str):
        return json.loads(value)
    if isinstance(value, bytes):
        if value[:1] == PICKLED:
            return pickle.loads(value[1:])
        return value
    return value


class Unpicklable(NamedTuple):
    """A pickled value whose class cannot be imported in this process (it lives in
    the job file, say): kept as bytes so that the loader can import the job and retry."""

    blob: bytes
    type_hint: str

    def __repr__(self) -> str:
        return f"<stored object: {self.type_hint}>"


def decode_lenient(value: Any) -> Any:
    """:func:`decode`, but a pickle whose class cannot be imported comes back as
    :class:`Unpicklable` instead of raising."""
    if isinstance(value, bytes) and value[:1] == PICKLED:
        try:
            return pickle.loads(value[1:])
        except (ModuleNotFoundError, AttributeError, ImportError) as exc:
            return Unpicklable(value[1:], str(exc))
    return decode(value)


def type_name(value: Any) -> str:
    """What the CSV and the report show for a value they cannot spell out."""
    kind = type(value)
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and getattr(value, "ndim", 0):
        return f"<{kind.__name__} {dtype} {'x'.join(map(str, shape))}>"
    return f"<{kind.__module__}.{kind.__qualname__}>" if kind.__module__ != "builtins" \
        else f"<{kind.__name__}>"


def journal(value: Any) -> Any:
    """``encode``'s output as JSON for the asks journal (a pickle as hex)."""
    encoded = encode(value, limit=None)
    if isinstance(encoded, bytes):
        return {"$pickle": encoded.hex()}
    return encoded


def numeric(value: Any) -> Optional[float]:
    """The result as a float when it is a real number (nan and inf included), else None."""
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        import numpy as np  # numpy scalars are common results
        if isinstance(value, (np.integer, np.floating)):
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    return None
