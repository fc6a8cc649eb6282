"""Network benchmark figures kept per cluster, so that later runs on the same cables
do not measure them again (no MPI here).

A cluster is its main node, its nodes' host names and the addresses the main node
reaches them by, and the MPI library: ``cluster_key`` hashes them. The figures of the
last measurement (``quick`` or ``full``) are kept in
``<cache>/netbench/<key>.json`` on the main node (``<cache>``: ``$PARC_MPI_CACHE``,
else ``~/.cache/parc_mpi``), outside any run folder. A run with ``--netbench auto``
(the default) reuses them when

* the cluster is the same (a node added, removed or at another address is another key),
* they are younger than ``--netbench-max-age`` hours (default a week), and
* a spot check agrees: 100 one-byte round trips to each node and one megabyte sent to
  it (milliseconds on gigabit), whose median latency must stay within 3x (and 50 us)
  of the kept one and whose rate within 3x of the kept 1 MiB upload: a link that
  changed (a node moved to Wi-Fi, a switch port at 100 Mbit/s) shows there. A check
  that fails is made once more before the figures are measured again (a busy moment
  is not a changed link).

Otherwise it measures (``quick``) before work, as before, and keeps what it measured.
Each run stores a copy of the figures it used, with their age, in its own store, so its
report stays a function of its own folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

MAX_AGE_HOURS = 24 * 7
DRIFT_FACTOR = 3.0     # a latency this many times the kept one (or a third of it)...
DRIFT_FLOOR_US = 50.0  # ...and this far from it: the link changed, measure again


def _address(host: str) -> str:
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET)
        return sorted({i[4][0] for i in infos})[0]
    except (OSError, IndexError):
        return host


def cluster_key(main: str, nodes: Iterable[str], library: str = "") -> Tuple[str, dict]:
    """The key of the cluster the figures belong to, and what it was made from."""
    names = sorted(set(nodes) | {main})
    ident = {"main": main, "nodes": {n: _address(n) for n in names},
             "mpi": library.splitlines()[0].strip() if library else ""}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return digest, ident


def kept_path(key: str, cache: Optional[str] = None) -> str:
    from .cluster.ship import default_cache
    return os.path.join(cache or default_cache(), "netbench", f"{key}.json")


def load(key: str, max_age_hours: float = MAX_AGE_HOURS, cache: Optional[str] = None,
         now: Optional[float] = None) -> Tuple[Optional[dict], str]:
    """(the kept figures, or None, and why not)."""
    path = kept_path(key, cache)
    try:
        with open(path) as fh:
            kept = json.load(fh)
        rows, measured = kept["rows"], float(kept["measured_at"])
    except FileNotFoundError:
        return None, "no figures kept for this cluster yet"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"the kept figures in {path} are unreadable ({exc})"
    age = (now or time.time()) - measured
    if age > max_age_hours * 3600:
        return None, (f"the kept figures are {age / 3600:.0f} h old (over "
                      f"--netbench-max-age {max_age_hours:g} h)")
    if not rows:
        return None, "the kept figures are empty"
    kept["age_seconds"] = round(age, 1)
    kept["path"] = path
    return kept, ""


def save(key: str, ident: dict, mode: str, rows: List[Dict[str, Any]],
         pairs: List[Tuple], cache: Optional[str] = None) -> Optional[str]:
    """Keep a measurement (written aside, then renamed); returns the path, or None
    when the cache cannot be written (a read-only home: the run goes on)."""
    path = kept_path(key, cache)
    body = {"cluster": ident, "mode": mode, "measured_at": time.time(), "rows": rows,
            "pairs": [list(p) for p in pairs]}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".netbench-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def kept_figures(rows: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """Each node's kept 1-byte latency median (us) and 1 MiB upload rate (MB/s)."""
    out: Dict[str, Dict[str, float]] = {}
    for r in rows:
        if r.get("kind") == "latency" and r.get("size") == 1 and r.get("p50") is not None:
            out.setdefault(r["node"], {})["us"] = float(r["p50"])
        if r.get("kind") == "upload" and r.get("size") == 1 << 20 and r.get("mbps"):
            out.setdefault(r["node"], {})["mbps"] = float(r["mbps"])
    return out


def drift(kept_rows: Iterable[Dict[str, Any]],
          now: Dict[str, Optional[Tuple[float, float]]]) -> str:
    """Why the kept figures no longer describe the links ("" when they do): a node's
    spot-checked latency or rate far from its kept one, or a node not in them."""
    kept = kept_figures(kept_rows)
    for node, got in sorted(now.items()):
        if got is None:
            return f"{node} did not answer the spot check"
        was = kept.get(node)
        if was is None or "us" not in was:
            return f"no kept figures for {node}"
        us, mbps = got
        if abs(us - was["us"]) > DRIFT_FLOOR_US and (us > DRIFT_FACTOR * was["us"] or
                                                      us < was["us"] / DRIFT_FACTOR):
            return (f"{node}'s latency is {us:.0f} us against {was['us']:.0f} us kept: its "
                    "link changed")
        rate = was.get("mbps")
        if rate and mbps and (mbps < rate / DRIFT_FACTOR or mbps > rate * DRIFT_FACTOR) \
                and "(same node)" not in node:
            return (f"{node}'s upload is {mbps:.1f} MB/s against {rate:.1f} MB/s kept: its "
                    "link changed")
    return ""


def age_words(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def describe(info: Optional[Dict[str, Any]]) -> str:
    """Where a run's network figures came from, in a sentence (its meta's ``netbench``)."""
    if not info:
        return ""
    mode = info.get("mode") or "quick"
    if info.get("source") == "kept":
        checks = info.get("check") or {}
        shown = ", ".join(f"{n} {c[0]:.0f} µs, {c[1]:.0f} MB/s" for n, c in sorted(checks.items())
                          if c is not None and "(same node)" not in n)
        return (f"Measured {age_words(float(info.get('age_seconds') or 0))} before this run "
                f"({mode}) and kept for this cluster; reused after a check of each link's "
                f"latency and rate at start-up" + (f" ({shown})" if shown else "") + ".")
    why = info.get("why")
    return f"Measured at this run's start ({mode})" + (f": {why}." if why else ".")
