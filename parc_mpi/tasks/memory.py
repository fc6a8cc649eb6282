"""Memory: a task's limit, the node's available memory, and the node's guard.

A task process's limit (``memory=`` on the job, ``--memory`` on the command line) is a
memory cgroup of its own where this process may make one (cgroup v2 ``memory.max``
or v1 ``memory.limit_in_bytes``: exact, the kernel ends the process when it passes),
else ``RLIMIT_DATA`` (heap and private anonymous mappings: an allocation past it fails
with ``MemoryError``). Raspberry Pi OS ships with the memory controller disabled
(``cgroup_disable=memory`` on the kernel command line), so a Pi gets the rlimit unless
its owner enables the controller (docs/reliability.md says how).

The node's available memory is psutil's ``available`` (what the kernel's own
heuristics resemble), and within the node's own cgroup limit where it has one (a
container, a simulated node): ``limit - (usage - inactive file pages)``.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Tuple

GUARD_FRACTION = 0.05       # the guard acts below 5% of the node's memory available...
GUARD_FLOOR = 64 * 2**20    # ...or below 64 MB, whichever is larger
GUARD_INTERVAL = 0.25       # seconds between looks while a task runs...
GUARD_NEAR = 4              # ...and while the node has less than 4x the threshold left,
GUARD_FAST = 0.005          # every 5 ms

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20,
          "mib": 2**20, "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40}


def parse_size(value, what: str = "memory") -> Optional[int]:
    """``"800M"``, ``"1.5G"``, ``"512MiB"`` or a number of bytes -> bytes; None stays
    None. Raises ValueError naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a size such as '800M' or a number of bytes, "
                         f"got {value!r}")
    if isinstance(value, (int, float)):
        n = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _UNITS:
            raise ValueError(f"{what} must be a size such as '800M', '2G' or a number of "
                             f"bytes, got {value!r}")
        n = float(m.group(1)) * _UNITS[unit]
    if not n >= 16 * 2**20:
        raise ValueError(f"{what} must be at least 16M (a Python process needs that much "
                         f"to start), got {value!r}")
    return int(n)


def mb(nbytes: Optional[float]) -> str:
    """A size as people write it: ``800 MB``, ``1.5 GB`` (MB = 2**20 bytes here, as
    ``free -m`` and the limit's own units)."""
    if nbytes is None:
        return "?"
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.3g} GB"
    return f"{nbytes / 2**20:.0f} MB"


# -- cgroups -------------------------------------------------------------------
_ROOT = "/sys/fs/cgroup"


def _own_memory_cgroup() -> Optional[Tuple[str, str]]:
    """(version, folder) of this process's memory cgroup: ("v1", ...) when the v1
    memory controller is mounted, else ("v2", ...) when the unified hierarchy has
    the memory controller; None when neither (a Pi by default)."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    v2 = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _id, controllers, path = parts
        if "memory" in controllers.split(","):
            folder = os.path.join(_ROOT, "memory") + path
            if os.path.isfile(os.path.join(folder, "memory.limit_in_bytes")):
                return "v1", folder
        if _id == "0" and controllers == "":
            v2 = path
    if v2 is not None:
        for base in (os.path.join(_ROOT, "unified"), _ROOT):
            folder = base + v2
            try:
                with open(os.path.join(base, "cgroup.controllers")) as fh:
                    if "memory" in fh.read().split():
                        return "v2", folder
            except OSError:
                continue
    return None


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat(folder: str, key: str) -> int:
    try:
        with open(os.path.join(folder, "memory.stat")) as fh:
            for line in fh:
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
    except (OSError, ValueError):
        pass
    return 0


def node_memory() -> Tuple[int, int]:
    """(available, total) bytes for this node: psutil's figures, narrowed by the
    memory cgroup this process is in when that has a limit below the machine's."""
    import psutil
    vm = psutil.virtual_memory()
    avail, total = vm.available, vm.total
    own = _own_memory_cgroup()
    if own is not None:
        version, folder = own
        if version == "v1":
            limit = _read_int(os.path.join(folder, "memory.limit_in_bytes"))
            usage = _read_int(os.path.join(folder, "memory.usage_in_bytes"))
            inactive = _stat(folder, "total_inactive_file")
        else:
            limit = _read_int(os.path.join(folder, "memory.max"))
            usage = _read_int(os.path.join(folder, "memory.current"))
            inactive = _stat(folder, "inactive_file")
        if limit is not None and usage is not None and limit < total:
            total = limit
            avail = min(avail, max(0, limit - (usage - inactive)))
    return avail, total


def guard_threshold(total: int, fraction: float = GUARD_FRACTION) -> int:
    return max(int(total * fraction), GUARD_FLOOR)


class TaskCgroup:
    """A memory cgroup of one task process, under this process's own; ``make``
    returns None where none can be made (no controller, no permission)."""

    def __init__(self, version: str, folder: str, limit: int):
        self.version, self.folder, self.limit = version, folder, limit

    @classmethod
    def make(cls, limit: int, name: str) -> Optional["TaskCgroup"]:
        if os.environ.get("PARC_MPI_CGROUP") == "off":   # as on a Pi: the rlimit
            return None
        own = _own_memory_cgroup()
        if own is None:
            return None
        version, parent = own
        folder = os.path.join(parent, name)
        try:
            os.makedirs(folder, exist_ok=True)
            if version == "v1":
                _write(os.path.join(folder, "memory.limit_in_bytes"), limit)
                # no swap beyond the limit either, where the kernel accounts swap
                if os.path.exists(os.path.join(folder, "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(folder, "memory.memsw.limit_in_bytes"), limit)
            else:
                _write(os.path.join(folder, "memory.max"), limit)
                if os.path.exists(os.path.join(folder, "memory.swap.max")):
                    _write(os.path.join(folder, "memory.swap.max"), 0)
        except OSError:
            try:
                os.rmdir(folder)
            except OSError:
                pass
            return None
        return cls(version, folder, limit)

    def add(self, pid: int) -> bool:
        try:
            _write(os.path.join(self.folder, "cgroup.procs"), pid)
            return True
        except OSError:
            return False

    def oom_kills(self) -> int:
        """How many processes the kernel ended in this cgroup for passing its limit."""
        name = "memory.oom_control" if self.version == "v1" else "memory.events"
        try:
            with open(os.path.join(self.folder, name)) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
        except (OSError, ValueError):
            pass
        if self.version == "v1":   # older kernels: how often the limit was hit
            return _read_int(os.path.join(self.folder, "memory.failcnt")) or 0
        return 0

    def remove(self) -> None:
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


def _write(path: str, value) -> None:
    with open(path, "w") as fh:
        fh.write(str(value))


def apply_rlimit(limit: int) -> None:
    """The fallback limit, set by the task process on itself."""
    import resource
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def peak_reset() -> bool:
    """Start a new peak of this process's resident memory (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> Optional[int]:
    """This process's peak resident memory since the last ``peak_reset`` (bytes)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
