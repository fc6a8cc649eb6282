"""An optimizer's own linear algebra on one BLAS thread, whatever the environment.

A plain script's numpy starts one BLAS thread per core. The GP's matrices are a few
hundred rows: threads cost more in hand-over than they save, and on a busy machine
(the workers compute beside rank 0) far more: an ask at 250 points in 5-D measured
79-100 ms with default threads against 36-39 ms with one. ``one_blas_thread()``
limits numpy's and scipy's BLAS (and OpenMP) to one thread for the length of an
ask or a tell and restores them after, so the user's own numpy keeps its threads.
It uses threadpoolctl, and does nothing when it is missing or when BLAS already
runs one thread (under mpiexec, ``parc_mpi`` sets that for the whole rank).
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Iterator, Optional, Tuple

_local = threading.local()
_cache: Tuple[Optional[frozenset], Any] = (None, None)


def _controller():
    """A threadpoolctl controller over the BLAS libraries loaded now (rebuilt once
    scipy.linalg, which brings its own BLAS, has been imported)."""
    global _cache
    key = frozenset(m for m in ("numpy", "scipy.linalg") if m in sys.modules)
    if _cache[0] == key:
        return _cache[1]
    try:
        from threadpoolctl import ThreadpoolController
        ctl = ThreadpoolController()
        if all(lib.num_threads <= 1 for lib in ctl.lib_controllers):
            ctl = None   # nothing to limit
    except Exception:   # threadpoolctl missing or unable to read a library
        ctl = None
    _cache = (key, ctl)
    return ctl


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    if getattr(_local, "depth", 0):   # nested (auto -> its child): already limited
        yield
        return
    ctl = _controller()
    _local.depth = 1
    try:
        if ctl is None:
            yield
        else:
            with ctl.limit(limits=1):
                yield
    finally:
        _local.depth = 0
