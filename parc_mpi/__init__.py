"""parc_mpi: a few machines as one parallel computer for Python, over MPI.

A job file defines ``job`` with one of :func:`map`, :func:`optimize` or
:func:`generate`, and ``mpirun ... python -m parc_mpi.run job.py`` runs it.
"""
__version__ = "0.1.0"

from .api import OptimizeResult, maximize, minimize  # noqa: E402
from .job import Job, JobError, generate, map, optimize  # noqa: E402
from .space import Choice, Integer, Real, Space  # noqa: E402

__all__ = ["map", "optimize", "generate", "minimize", "maximize", "OptimizeResult", "Job",
           "JobError", "Real", "Integer", "Choice", "Space", "__version__"]
