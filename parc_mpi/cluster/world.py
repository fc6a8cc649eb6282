"""Are we under a launcher? The one question the serial paths ask of MPI."""
import os


def world():
    """The MPI world communicator when this process is one of several ranks, else None
    (no mpi4py, a one-rank world, or ``PARC_MPI_SERIAL`` set)."""
    if os.environ.get("PARC_MPI_SERIAL"):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
