"""Network benchmarks from the main node to every node, the OSU way.

* latency: ping-pong with one reused buffer; one-way = RTT/2, in microseconds,
  with p50/p90/p99, min and mean over the timed iterations (OSU ``-z``);
* upload (main -> node) and download (node -> main): a window of ``Isend`` then a
  1-byte ack, one reused buffer, MB/s with MB = 10**6 bytes (osu_bw);
* iteration counts capped by volume and time, as the Intel MPI Benchmarks do, so
  ``quick`` costs under 2 s per node and ``full`` about a minute on gigabit;
* the NIC that carried the bytes and its link speed (byte counters before/after);
* a small-message latency matrix between all node pairs, in rounds of disjoint pairs.

The leader (the monitor rank, or rank 0 of the standalone tool) sends commands;
each peer serves them until told to end.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import psutil
from mpi4py import MPI

from .protocol import TAG_NET_CMD as TAG_CMD, TAG_NET_DATA as TAG_DATA
from .protocol import TAG_NET_REPLY as TAG_REPLY
from .protocol import recv_quietly

LARGE = 8192  # OSU: above this a message is "large"
# no single message of the benchmark may take longer (a window is sized to take about
# 0.25 s): a node whose cable is pulled while it is measured is skipped, not waited for
WAIT = 15.0


class PeerSilent(RuntimeError):
    """A peer did not answer within WAIT seconds (its link is down, or it is gone)."""


def _wait(req: MPI.Request, peer: int) -> None:
    """Complete ``req``, spinning as MPI_Wait does, or raise PeerSilent after WAIT."""
    if req.Test():
        return
    deadline = time.monotonic() + WAIT
    while not req.Test():
        if time.monotonic() > deadline:
            raise PeerSilent(f"rank {peer} did not answer in {WAIT:.0f} s")


def _send(comm: MPI.Comm, msg, peer: int, tag: int) -> None:
    _wait(comm.Isend(msg, dest=peer, tag=tag), peer)


def _recv(comm: MPI.Comm, msg, peer: int, tag: int) -> None:
    _wait(comm.Irecv(msg, source=peer, tag=tag), peer)


def _recv_object(comm: MPI.Comm, peer: int, tag: int):
    req = comm.irecv(source=peer, tag=tag)
    deadline = time.monotonic() + WAIT
    while True:
        done, value = req.test()
        if done:
            return value
        if time.monotonic() > deadline:
            raise PeerSilent(f"rank {peer} did not answer in {WAIT:.0f} s")
        time.sleep(0.001)

# bw_window: the seconds of data (at the last size's rate) one window of large messages
# holds, 64 messages at most. quick: a window of 50 ms and 0.15 s timed per size is
# about 16 MB of a gigabit link each, and the node's figures in under 2 s (they were
# 5 s with 0.25 s windows: six nodes held the first run half a minute)
MODES = {
    "quick": {"lat_sizes": [1, 1024, 65536], "bw_sizes": [65536, 1 << 20, 4 << 20],
              "bw_min_time": 0.15, "bw_max_time": 2.0, "bw_window": 0.05,
              "small_iters": 300, "large_iters": 100},
    "full": {"lat_sizes": [1 << i for i in range(23)], "bw_sizes": [1 << i for i in range(23)],
             "bw_min_time": 0.25, "bw_max_time": 10.0, "bw_window": 0.25,
             "small_iters": 10000, "large_iters": 1000},
}


def _latency_iters(size: int, mode: dict) -> Tuple[int, int]:
    """(warm-up, timed) iterations: OSU counts for small, IMB's 40 MiB volume cap above."""
    if size <= LARGE:
        timed = mode["small_iters"]
        return max(10, timed // 10), timed
    timed = int(min(mode["large_iters"], max(10, (40 << 20) // size)))
    return max(2, timed // 10), timed


def _buffer(size: int) -> np.ndarray:
    return np.zeros(max(size, 1), dtype=np.uint8)


def pingpong(comm: MPI.Comm, peer: int, size: int, warmup: int, timed: int,
             first: bool) -> Optional[np.ndarray]:
    """Ping-pong ``size`` bytes; the first side returns one-way times in us."""
    buf = _buffer(size)
    msg = [buf, size, MPI.BYTE]
    times = np.empty(timed) if first else None
    for i in range(warmup + timed):
        if first:
            t0 = MPI.Wtime()
            _send(comm, msg, peer, TAG_DATA)
            _recv(comm, msg, peer, TAG_DATA)
            if i >= warmup:
                times[i - warmup] = (MPI.Wtime() - t0) * 1e6 / 2
        else:
            _recv(comm, msg, peer, TAG_DATA)
            _send(comm, msg, peer, TAG_DATA)
    return times


def window_send(comm: MPI.Comm, peer: int, size: int, window: int, reps: int,
                sending: bool) -> float:
    """``reps`` windows of ``window`` messages; returns the sender's seconds."""
    buf = _buffer(size)
    ack = _buffer(1)
    t0 = MPI.Wtime()
    for _ in range(reps):
        if sending:
            for req in [comm.Isend([buf, size, MPI.BYTE], dest=peer, tag=TAG_DATA)
                        for _ in range(window)]:
                _wait(req, peer)
            _recv(comm, [ack, 1, MPI.BYTE], peer, TAG_REPLY)
        else:
            for req in [comm.Irecv([buf, size, MPI.BYTE], source=peer, tag=TAG_DATA)
                        for _ in range(window)]:
                _wait(req, peer)
            _send(comm, [ack, 1, MPI.BYTE], peer, TAG_REPLY)
    return MPI.Wtime() - t0


def _nic_bytes() -> Dict[str, int]:
    return {nic: c.bytes_sent + c.bytes_recv
            for nic, c in psutil.net_io_counters(pernic=True).items()}


def _carrier(before: Dict[str, int], after: Dict[str, int], moved: int) -> Optional[str]:
    """The NIC that carried at least 90% of ``moved`` bytes (None: shared memory)."""
    best, delta = None, 0
    for nic, value in after.items():
        d = value - before.get(nic, 0)
        if d > delta:
            best, delta = nic, d
    if best is None or delta < 0.9 * moved:
        return None
    return best


def _link_speed(nic: Optional[str]) -> Optional[int]:
    if not nic:
        return None
    st = psutil.net_if_stats().get(nic)
    return (st.speed or None) if st else None


class Leader:
    """The side that decides what to measure and keeps the results."""

    def __init__(self, comm: MPI.Comm, mode: str = "quick"):
        if mode not in MODES:
            raise ValueError(f"netbench mode must be auto, quick, full or off, got {mode!r}")
        self.comm, self.mode_name, self.mode = comm, mode, MODES[mode]

    def _cmd(self, peer: int, *cmd: Any) -> None:
        self.comm.send(cmd, dest=peer, tag=TAG_CMD)

    def latency(self, peer: int, node: str, size: int) -> Dict[str, Any]:
        warmup, timed = _latency_iters(size, self.mode)
        self._cmd(peer, "lat", size, warmup, timed)
        t0 = time.monotonic()
        us = pingpong(self.comm, peer, size, warmup, timed, first=True)
        return {"node": node, "peer_rank": peer, "kind": "latency", "size": size,
                "p50": float(np.percentile(us, 50)), "p90": float(np.percentile(us, 90)),
                "p99": float(np.percentile(us, 99)), "min": float(us.min()),
                "mean": float(us.mean()), "iterations": timed,
                "seconds": time.monotonic() - t0}

    def check(self, peer: int, warmup: int = 10, timed: int = 100) -> Tuple[float, float]:
        """A spot check: the median one-way latency (us) of 1-byte round trips, and the
        upload rate (MB/s) of a window of four 256 KiB messages (after one untimed)."""
        self._cmd(peer, "lat", 1, warmup, timed)
        us = pingpong(self.comm, peer, 1, warmup, timed, first=True)
        size, window = 1 << 18, 4
        self._windows(peer, size, window, 1, True)
        seconds = self._windows(peer, size, window, 1, True)
        return float(np.percentile(us, 50)), size * window / max(seconds, 1e-9) / 1e6

    def bandwidth(self, peer: int, node: str, size: int, upload: bool,
                  estimate: Optional[float]) -> Dict[str, Any]:
        """Upload: this side sends. Download: the peer sends and reports its time."""
        if size <= 65536 or not estimate:
            window = 64
        else:
            window = int(min(64, max(1, self.mode["bw_window"] * estimate * 1e6 / size)))
        kind = "upload" if upload else "download"
        t_start = time.monotonic()
        before = _nic_bytes()
        # one untimed warm-up window, then one timed window to size the run
        seconds = self._windows(peer, size, window, 1, upload)
        seconds = self._windows(peer, size, window, 1, upload)
        per_window = max(seconds, 1e-6)
        reps = int(min(max(3, self.mode["bw_min_time"] / per_window),
                       max(1, self.mode["bw_max_time"] / per_window)))
        seconds = self._windows(peer, size, window, reps, upload)
        moved = size * window * (reps + 2)
        nic = _carrier(before, _nic_bytes(), moved)
        return {"node": node, "peer_rank": peer, "kind": kind, "size": size,
                "mbps": size * window * reps / seconds / 1e6, "iterations": reps * window,
                "seconds": time.monotonic() - t_start, "nic": nic,
                "link_mbit": _link_speed(nic)}

    def _windows(self, peer: int, size: int, window: int, reps: int, upload: bool) -> float:
        self._cmd(peer, "bw", size, window, reps, not upload)
        seconds = window_send(self.comm, peer, size, window, reps, sending=upload)
        if not upload:
            seconds = _recv_object(self.comm, peer, TAG_REPLY)
        return seconds

    def node(self, peer: int, node: str) -> List[Dict[str, Any]]:
        """Latency over sizes, then upload and download over sizes, for one node."""
        rows = [self.latency(peer, node, size) for size in self.mode["lat_sizes"]]
        for upload in (True, False):
            estimate = None
            for size in self.mode["bw_sizes"]:
                row = self.bandwidth(peer, node, size, upload, estimate)
                estimate = row["mbps"]
                rows.append(row)
        return rows

    def pair_matrix(self, leaders: Dict[int, str], warmup: int = 20,
                    timed: int = 200) -> List[Tuple[str, str, float, float]]:
        """1-byte latency between every pair of node leaders, disjoint pairs at once
        (the circle method: n-1 rounds for n nodes)."""
        ranks = sorted(leaders)
        me = self.comm.rank
        if len(ranks) < 2:
            return []
        ring = ranks + ([None] if len(ranks) % 2 else [])
        n = len(ring)
        out = []
        for _round in range(n - 1):
            pairs = [(ring[i], ring[n - 1 - i]) for i in range(n // 2)]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
            for a, b in pairs:
                for x, y, first in ((a, b, True), (b, a, False)):
                    if x != me:
                        self._cmd(x, "pair", y, warmup, timed, first)
            mine = [(a, b) for a, b in pairs if me in (a, b)]
            for a, b in mine:
                other = b if a == me else a
                try:
                    us = pingpong(self.comm, other, 1, warmup, timed, first=(a == me))
                except PeerSilent:
                    us = None
                if a == me:
                    out.append((leaders[a], leaders[b],
                                float(np.percentile(us, 50)) if us is not None else None,
                                float(np.percentile(us, 99)) if us is not None else None))
            for a, b in pairs:
                if a != me:  # a measured it (a pair of two dead-or-alive peers: None)
                    try:
                        p50, p99 = _recv_object(self.comm, a, TAG_REPLY)
                    except PeerSilent:
                        p50 = p99 = None
                    out.append((leaders[a], leaders[b], p50, p99))
            ring = [ring[0]] + [ring[-1]] + ring[1:-1]
        return out

    def end(self, peers: List[int], silent: Sequence[str] = ()) -> None:
        """Tell every peer the benchmark is over, and which nodes went silent (rank 0
        counts their workers lost from the start). A send to a silent node's rank may
        never complete: it is not waited for."""
        sends = [self.comm.isend(("end", list(silent)), dest=p, tag=TAG_CMD) for p in peers]
        deadline = time.monotonic() + WAIT
        for req in sends:
            while not req.Test() and time.monotonic() < deadline:
                time.sleep(0.001)


def serve(comm: MPI.Comm, leader: int) -> List[str]:
    """A peer: do what the leader asks until it says end; return the nodes the
    leader found silent."""
    while True:
        # waiting between commands must not spin
        cmd, _src, _tag = recv_quietly(comm, source=leader, tag=TAG_CMD)
        what = cmd[0]
        if what == "end":
            return list(cmd[1]) if len(cmd) > 1 else []
        try:
            if what == "lat":
                _, size, warmup, timed = cmd
                pingpong(comm, leader, size, warmup, timed, first=False)
            elif what == "bw":
                _, size, window, reps, sending = cmd
                seconds = window_send(comm, leader, size, window, reps, sending=sending)
                if sending:
                    comm.send(seconds, dest=leader, tag=TAG_REPLY)
            elif what == "pair":
                _, partner, warmup, timed, first = cmd
                try:
                    us = pingpong(comm, partner, 1, warmup, timed, first=first)
                except PeerSilent:  # the partner's link is gone: say so, serve on
                    us = None
                if first:
                    report = ((float(np.percentile(us, 50)), float(np.percentile(us, 99)))
                              if us is not None else (None, None))
                    comm.send(report, dest=leader, tag=TAG_REPLY)
        except PeerSilent:  # the leader gave up on this node (or is gone): wait for
            continue        # its next word, as the leader moves on to the next node
