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


def _max(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return b if a is None else a if b is None else max(a, b)


class NodeHealth:
    """A node's samples folded into what the alerts, the report's nodes table and the
    dashboard show. ``add`` takes one sample at a time, so a live reader keeps it up to
    date without holding every sample; :meth:`of` folds a list."""

    def __init__(self, baseline: Optional[int] = None):
        self.baseline = baseline
        self.n = 0
        self.last: Dict[str, Any] = {}
        self.temp_last = self.temp_max = None
        self.gpu_last = self.gpu_max = None
        self.clock_min: Optional[float] = None
        self.load_pct_max = self.mem_max = self.swap_max = None
        self.new_bits = 0          # throttle bits set during the run, not at its start

    @classmethod
    def of(cls, samples: List[Dict[str, Any]], baseline: Optional[int]) -> "NodeHealth":
        h = cls(baseline)
        for s in samples:
            h.add(s)
        return h

    def add(self, s: Dict[str, Any]) -> None:
        self.n += 1
        self.last = s
        self.new_bits |= new_throttle_bits(self.baseline, s.get("throttled"))
        t = s.get("cpu_temp_c")
        if t is not None:
            self.temp_last, self.temp_max = t, _max(self.temp_max, t)
        g = s.get("gpu_temp_c")
        if g is not None:
            self.gpu_last, self.gpu_max = g, _max(self.gpu_max, g)
        c = s.get("arm_mhz")
        if c is not None:
            self.clock_min = c if self.clock_min is None else min(self.clock_min, c)
        if s.get("load1") is not None and s.get("cores"):
            self.load_pct_max = _max(self.load_pct_max, 100.0 * s["load1"] / s["cores"])
        self.mem_max = _max(self.mem_max, s.get("mem_percent"))
        if s.get("swap_used_mb"):
            self.swap_max = _max(self.swap_max, s["swap_used_mb"])

    def alerts(self) -> List[Alert]:
        """Alerts, most important first (text without the node)."""
        out: List[Alert] = []
        new = self.new_bits
        if new & UNDER_VOLTAGE:
            out.append(Alert(0, "under-voltage during the run: check the power supply "
                                "(not heat)"))
        elif new:
            out.append(Alert(1, f"throttled during the run; cause: {throttle_cause(new)}"))
        if self.temp_max is not None and self.temp_max >= TEMP_C.red:
            out.append(Alert(1, f"temperature reached {self.temp_max:.0f} °C (a Pi "
                                f"throttles from {TEMP_C.red:.0f} °C)"))
        if self.mem_max is not None and self.mem_max >= MEMORY_PCT.red:
            out.append(Alert(2, f"memory reached {self.mem_max:.0f}%"))
        if self.load_pct_max is not None and self.load_pct_max >= LOAD_PCT.red:
            out.append(Alert(2, f"load reached {self.load_pct_max / 100:.1f}x its cores "
                                "(more runnable processes than cores: oversubscribed)"))
        if self.swap_max:
            out.append(Alert(3, f"swap in use ({self.swap_max:.0f} MB)"))
        return out


def node_alerts(samples: List[Dict[str, Any]], baseline: Optional[int]) -> List[Alert]:
    """Alerts from one node's samples, most important first (text without the node)."""
    return NodeHealth.of(samples, baseline).alerts()


def summarize_alerts(samples: List[Dict[str, Any]], baseline: Optional[int]) -> List[str]:
    """Alerts from a node's samples, most important first, as text (for the
    end-of-run lines)."""
    return [a.text for a in node_alerts(samples, baseline)]
