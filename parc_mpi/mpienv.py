"""Which MPI launcher is installed, and how to call it (no mpi4py import here).

MPICH's Hydra and Open MPI take different hostfile syntax and flags; this module
tells them apart from ``mpiexec --version`` so that the hostfile tool and the
tests can speak to either.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from typing import List, Optional


def find_mpiexec() -> Optional[str]:
    """Path of mpiexec: the one beside this Python first (a venv), then PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec") or shutil.which("mpirun")


@lru_cache(maxsize=None)
def detect_flavour(mpiexec: Optional[str] = None) -> Optional[str]:
    """Return ``"mpich"``, ``"openmpi"`` or None when no launcher is found."""
    mpiexec = mpiexec or find_mpiexec()
    if not mpiexec:
        return None
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    low = out.lower()
    if "open mpi" in low or "open-mpi" in low or "openrte" in low:
        return "openmpi"
    if "hydra" in low or "mpich" in low or "intel(r) mpi" in low:
        return "mpich"
    return None


def mpiexec_command(n: int, hostfile: Optional[str] = None,
                    extra: Optional[List[str]] = None) -> List[str]:
    """The launcher command for ``n`` ranks, with the flags this flavour needs.

    Open MPI refuses to run as root and to oversubscribe cores unless asked;
    the test suite and examples run more ranks than cores, so both are passed.
    """
    mpiexec = find_mpiexec()
    if not mpiexec:
        raise RuntimeError("no mpiexec found: install the 'mpich' extra or a system MPI")
    cmd = [mpiexec]
    flavour = detect_flavour(mpiexec)
    if flavour == "openmpi":
        cmd += ["--oversubscribe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd += ["--allow-run-as-root"]
        if hostfile:
            cmd += ["--hostfile", hostfile]
    elif hostfile:
        cmd += ["-f", hostfile]
    cmd += ["-n", str(n)]
    return cmd + list(extra or [])
