"""The live dashboard: ``python -m parc_mpi.serve [RUNS_DIR | RUN_DIR]`` or
``python -m parc_mpi.run job.py --serve [HOST:]PORT``.

A separate, read-only reader of run stores (no MPI, no matplotlib): :mod:`.api` makes
the JSON from :class:`~parc_mpi.store.RunReader`, :mod:`.server` serves it with the
pages in ``static/`` (charts drawn in the browser by the vendored uPlot),
:mod:`.launch` starts it beside a run. docs/dashboard.md describes the API.
"""
from .cli import main
from .server import make_server

__all__ = ["main", "make_server"]
