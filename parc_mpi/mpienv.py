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


def auto_cleanup_disabled() -> bool:
    """True when this process was started by an MPICH mpiexec given
    ``-disable-auto-cleanup`` (read from the parent processes' command lines:
    rank <- hydra_pmi_proxy <- mpiexec)."""
    pid = os.getppid()
    for _ in range(4):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if any(a.lstrip(b"-") in (b"disable-auto-cleanup", b"disable_auto_cleanup")
               for a in args):
            return True
        if any(b"mpiexec" in a or b"mpirun" in a for a in args[:1]):
            return False
        pid = ppid
    return False


def started_by_srun() -> bool:
    """True when Slurm's srun started this process itself (its parent is slurmstepd),
    not an mpiexec's proxy."""
    try:
        with open(f"/proc/{os.getppid()}/comm") as fh:
            return fh.read().strip() == "slurmstepd"
    except OSError:
        return False


def launcher_hostfile_text() -> Optional[str]:
    """The hostfile the launcher used, when it says which (MPICH, Open MPI, Slurm)."""
    for var in ("PARC_MPI_HOSTFILE", "HYDRA_HOST_FILE", "OMPI_MCA_orte_default_hostfile",
                "OMPI_MCA_rmaps_base_hostfile"):
        path = os.environ.get(var)
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    return fh.read()[:65536]
            except OSError:
                return None
    return None


RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID_WORLD",
             "SLURM_PROCID")


def launcher_rank() -> Optional[int]:
    """This process's rank as the launcher set it in the environment (MPICH's Hydra,
    Open MPI, PMIx, Slurm), or None outside a launcher; no MPI initialisation."""
    for var in RANK_VARS:
        value = os.environ.get(var)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None
