"""parc_mpi: a few machines as one parallel computer for Python, over MPI.

A job file defines ``job`` with one of :func:`map`, :func:`optimize` or
:func:`generate`, and ``mpirun ... python -m parc_mpi.run job.py`` runs it.
"""
__version__ = "0.1.0"

import os as _os
import sys as _sys

# Under an MPI launcher every core already runs a rank: numerical libraries that
# start a thread per core (OpenBLAS, MKL, OpenMP) would oversubscribe the node, and
# a 250 x 250 Cholesky measured 7x slower with 2 threads than with 1 on a busy
# 2-core box. One thread per rank unless the user chose otherwise; must happen
# before numpy loads its BLAS.
_LAUNCHED = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
if "numpy" not in _sys.modules and any(v in _os.environ for v in _LAUNCHED):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, "1")
if getattr(_sys, "orig_argv", [])[1:3] == ["-m", "parc_mpi.run"] and \
        any(v in _os.environ for v in _LAUNCHED):
    # a Ctrl-C while the ranks still import (the launcher forwards it to each): one line
    # and an exit, not a traceback per rank; the run's own handlers replace this one
    import signal as _signal

    def _interrupted_while_starting(signum, frame):
        if _os.environ.get("PMI_RANK", _os.environ.get("OMPI_COMM_WORLD_RANK")) == "0":
            _os.write(2, b"[parc_mpi] interrupted while starting: no run was made\n")
        else:
            # rank 0 got the same signal and says the one line: a rank that left at once
            # had the launcher kill rank 0 before it could (1 run in 6). Not leaving at
            # all is worse: the launcher waits for ever on ranks in MPI_Init.
            import time as _time
            _time.sleep(1.0)
        _os._exit(128 + signum)

    for _sig in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(_sig, _interrupted_while_starting)

from .api import OptimizeResult, maximize, minimize  # noqa: E402
from .job import Job, JobError, generate, map, optimize  # noqa: E402
from .programs import Program, ProgramError, program, run_program  # noqa: E402
from .progress import report, should_stop  # noqa: E402
from .space import Choice, Integer, Real, Space  # noqa: E402
from .store.load import Run, load  # noqa: E402

__all__ = ["map", "optimize", "generate", "minimize", "maximize", "OptimizeResult", "Job",
           "JobError", "Real", "Integer", "Choice", "Space", "load", "Run", "report", "should_stop", "program", "run_program", "Program",
           "ProgramError", "__version__"]
