"""Encoding task arguments and results for SQLite columns."""
from __future__ import annotations

import json
from typing import Any, Optional


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return repr(obj)


def encode(value: Any) -> Any:
    """A value for an SQLite column: int and float natively, the rest as JSON."""
    kind = type(value)
    if kind is int or kind is float:
        return value
    if value is None:
        return None
    return json.dumps(value, default=_json_default, allow_nan=True)


def decode(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def numeric(value: Any) -> Optional[float]:
    """The result as a finite or infinite float when it is a real number, else None."""
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


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)
