import shutil
import tempfile

import pytest
from mpi4py import MPI


@pytest.fixture
def shared_tmp():
    """A temporary folder made by rank 0, the same path on every rank."""
    comm = MPI.COMM_WORLD
    path = tempfile.mkdtemp(prefix="parc-mpi-test-") if comm.rank == 0 else None
    path = comm.bcast(path, root=0)
    yield path
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)
