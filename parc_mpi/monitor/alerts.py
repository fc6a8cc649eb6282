"""Health thresholds and the alerts they raise, defined once: the report's cell
colours, its alert list and the end-of-run health lines all read them, so a page
never shows a red cell beside "Alerts: none"."""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

from .sensors import UNDER_VOLTAGE, new_throttle_bits, throttle_cause


class Threshold(NamedTuple):
    """Amber from ``amber``, red (and an alert) from ``red``."""

    amber: float
    red: float

    def colour(self, value: Optional[float]) -> str:
        if value is None:
            return "na"
        return "red" if value >= self.red else "amber" if value >= self.amber else "green"


TEMP_C = Threshold(75.0, 80.0)        # a Pi 4 starts throttling at 80 °C
MEMORY_PCT = Threshold(80.0, 90.0)
# the 1-minute load as a share of the cores: 100% is a cluster doing its job; above
# it, more runnable processes than cores (oversubscribed ranks, or a stray process)
LOAD_PCT = Threshold(110.0, 150.0)


class Alert(NamedTuple):
    level: int                 # 0 power, 1 throttling/heat/stale/lost, 2 memory, load,
    text: str                  # network, failures, 3 swap


def node_alerts(samples: List[Dict[str, Any]], baseline: Optional[int]) -> List[Alert]:
    """Alerts from one node's samples, most important first (text without the node)."""
    out: List[Alert] = []
    new = 0
    for s in samples:
        new |= new_throttle_bits(baseline, s.get("throttled"))
    if new & UNDER_VOLTAGE:
        out.append(Alert(0, "under-voltage during the run: check the power supply (not heat)"))
    elif new:
        out.append(Alert(1, f"throttled during the run; cause: {throttle_cause(new)}"))
    temps = [s["cpu_temp_c"] for s in samples if s.get("cpu_temp_c") is not None]
    if temps and max(temps) >= TEMP_C.red:
        out.append(Alert(1, f"temperature reached {max(temps):.0f} °C (a Pi throttles from "
                            f"{TEMP_C.red:.0f} °C)"))
    mems = [s["mem_percent"] for s in samples if s.get("mem_percent") is not None]
    if mems and max(mems) >= MEMORY_PCT.red:
        out.append(Alert(2, f"memory reached {max(mems):.0f}%"))
    loads = [100.0 * s["load1"] / s["cores"] for s in samples
             if s.get("load1") is not None and s.get("cores")]
    if loads and max(loads) >= LOAD_PCT.red:
        out.append(Alert(2, f"load reached {max(loads) / 100:.1f}x its cores "
                            "(more runnable processes than cores: oversubscribed)"))
    swap = [s["swap_used_mb"] for s in samples if s.get("swap_used_mb")]
    if swap and max(swap) > 0:
        out.append(Alert(3, f"swap in use ({max(swap):.0f} MB)"))
    return out
