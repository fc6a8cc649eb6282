"""What parc_mpi asks of Slurm when it runs inside a Slurm job: why the job is being
ended, and which nodes it holds. Plain subprocess calls to Slurm's own commands; no MPI.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import List, Optional

TIME_LIMIT = "Slurm's time limit (SIGTERM)"
CANCELLED = "scancel (SIGTERM)"
NODE_FAILED = "a failed node of the job"   # + its names, then "(Slurm's SIGTERM)"
REQUEUED = "scontrol requeue (SIGTERM)"


def job_id() -> Optional[str]:
    """The Slurm job this process belongs to, or None outside Slurm."""
    return os.environ.get("SLURM_JOB_ID") or None


def _scontrol(*args: str, timeout: float = 5.0) -> Optional[str]:
    try:
        done = subprocess.run(["scontrol", *args], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def end_reason() -> Optional[str]:
    """Why Slurm is ending this job, asked when its SIGTERM arrives: the time limit
    (``Reason=TimeLimit``), a node of the job that Slurm declared down (the job is then
    cancelled, and a batch job requeued), a requeue (``Restarts`` above the count
    this run started with), or scancel (the rest: a user or an administrator cancelled
    it). What ``scontrol show job`` says at that moment, seen on the simulated box:
    ``JobState=COMPLETING Reason=TimeLimit`` for the limit, ``Reason=None`` for both
    scancel and a node failure. None outside Slurm or when ``scontrol`` does not answer."""
    jid = job_id()
    if jid is None:
        return None
    text = _scontrol("show", "job", jid)
    if text is None:
        return None
    m = re.search(r"\bReason=(\S+)", text)
    if m and m.group(1) == "TimeLimit":
        return TIME_LIMIT
    down = _down_nodes(os.environ.get("SLURM_JOB_NODELIST", ""))
    if down:
        return f"{NODE_FAILED}, {', '.join(down)} (Slurm's SIGTERM)"
    m = re.search(r"\bRestarts=(\d+)", text)
    try:
        started_with = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    except ValueError:
        started_with = 0
    if m and int(m.group(1)) > started_with:
        return REQUEUED
    return CANCELLED


def _down_nodes(nodelist: str) -> List[str]:
    """The nodes of ``nodelist`` that Slurm has down or failing."""
    if not nodelist:
        return []
    try:
        done = subprocess.run(["sinfo", "-h", "-N", "-n", nodelist, "-o", "%N %T"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].rstrip("*~#!%$@^-+").lower() in (
                "down", "fail", "failing") and words[0] not in out:
            out.append(words[0])
    return out


def allocated_nodes(nodelist: Optional[str] = None) -> List[str]:
    """The host names of the job's allocation (``SLURM_JOB_NODELIST`` expanded by
    ``scontrol show hostnames``), in Slurm's order; [] outside Slurm."""
    nodelist = nodelist or os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist:
        return []
    text = _scontrol("show", "hostnames", nodelist)
    if text is None:
        return []
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _cpus_per_node(text: str) -> List[int]:
    """``SLURM_JOB_CPUS_PER_NODE`` (``4(x6)``, ``4,2(x3)``) as one count per node."""
    out: List[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", part)
        if not m:
            raise ValueError(f"SLURM_JOB_CPUS_PER_NODE={text!r}: not Slurm's form")
        out += [int(m.group(1))] * int(m.group(2) or 1)
    return out


def cluster_nodes() -> List[tuple]:
    """(name, address, cores) of Slurm's nodes: the job's allocation inside a job (in
    its order: rank 0's node first), else every node ``sinfo`` lists. Raises
    ValueError, in words, when Slurm does not answer."""
    try:
        done = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %o %c"], capture_output=True,
                              text=True, timeout=15)
    except FileNotFoundError:
        raise ValueError("sinfo is not installed: is this a Slurm cluster?") from None
    except subprocess.TimeoutExpired:
        raise ValueError("sinfo did not answer in 15 s (slurmctld down?)") from None
    if done.returncode != 0:
        raise ValueError(f"sinfo failed: {done.stderr.strip()[-200:] or 'no output'}")
    known = {}
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] not in known:   # a node in two partitions: once
            known[words[0]] = (words[1], int(words[2]))
    names = allocated_nodes()
    if not names:
        return [(n, addr, cores) for n, (addr, cores) in known.items()]
    cpus = _cpus_per_node(os.environ.get("SLURM_JOB_CPUS_PER_NODE", ""))
    if len(cpus) != len(names):
        raise ValueError(f"SLURM_JOB_CPUS_PER_NODE gives {len(cpus)} nodes, "
                         f"SLURM_JOB_NODELIST {len(names)}")
    return [(n, known.get(n, (n, 0))[0], c) for n, c in zip(names, cpus)]
