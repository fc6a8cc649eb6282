"""Reading an earlier optimization to warm-start a new one (no MPI)."""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Tuple

from .reader import RunReader, StoreError


def _space_of(meta: Dict[str, Any]):
    return (meta.get("job") or {}).get("space")


def check_warm_start(run_dir: str, space) -> None:
    """ValueError naming what is wrong: not a run, not an optimization, another space."""
    try:
        with RunReader(run_dir) as reader:
            meta = reader.meta()
    except StoreError as exc:
        raise ValueError(f"warm_start: {exc}") from None
    old = _space_of(meta)
    if (meta.get("job") or {}).get("kind") != "optimize" or old is None:
        raise ValueError(f"warm_start: {run_dir} is not an optimization run")
    new = json.loads(json.dumps(space.describe()))
    if old != new:
        diff = sorted(set(old) ^ set(new)) or [k for k in new if old.get(k) != new[k]]
        raise ValueError(f"warm_start: {run_dir} searched another space (it differs in "
                         f"{', '.join(map(repr, diff))}: {old.get(diff[0])} -> "
                         f"{new.get(diff[0])})")


def warm_points(run_dir: str) -> List[Tuple[Dict[str, Any], float]]:
    """(params, value) of every finished evaluation of the earlier run, in commit
    order; failures as nan (the optimizer learns to avoid them too)."""
    with RunReader(run_dir) as reader:
        rows = reader.final_results()
    # the values are the objective's own, so they serve a run of either goal
    return [(r.params, r.value if r.ok and r.value is not None else math.nan)
            for r in rows]
