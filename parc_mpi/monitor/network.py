"""What the network figures say, in words (no MPI: the report and the netbench
tool both use it)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

from ..store import NETBENCH_COLUMNS, NetFigure

Row = Union[NetFigure, Dict[str, Any]]


def as_figure(row: Row) -> NetFigure:
    """A netbench row as a :class:`NetFigure` (the benchmark makes dicts)."""
    if isinstance(row, NetFigure):
        return row
    return NetFigure(*(row.get(c) for c in NETBENCH_COLUMNS))


def warnings_for(rows: Sequence[Row]) -> List[str]:
    """Wi-Fi paths, slow links, and gigabit links that deliver too little."""
    figs = [as_figure(r) for r in rows]
    out = []
    for f in figs:
        if f.kind != "download" or f.size != max(
                g.size for g in figs if g.kind == "download" and g.node == f.node):
            continue
        nic, speed = f.nic, f.link_mbit
        if nic and nic.startswith(("wl", "wifi")):
            out.append(f"{f.node}: traffic went over Wi-Fi ({nic})")
        elif speed and speed < 1000:
            out.append(f"{f.node}: link {nic} negotiated {speed} Mbit/s, below gigabit")
        elif speed and speed >= 1000 and f.mbps is not None and f.mbps < 50:
            out.append(f"{f.node}: {f.mbps:.0f} MB/s on a {speed} Mbit/s link")
    return out
