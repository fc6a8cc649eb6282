import time

import pytest
from mpi4py import MPI

from parc_mpi.cluster.protocol import bcast_quietly, gather_quietly, recv_quietly

comm = MPI.COMM_WORLD


@pytest.mark.mpi(min_size=2)
def test_bcast_and_gather_quietly_agree_with_collectives():
    value = bcast_quietly(comm, {"from": 0, "data": list(range(5))} if comm.rank == 0 else None)
    assert value == {"from": 0, "data": list(range(5))}
    got = gather_quietly(comm, comm.rank * 10)
    if comm.rank == 0:
        assert got == [r * 10 for r in range(comm.size)]
    else:
        assert got is None


@pytest.mark.mpi(min_size=2)
def test_recv_quietly_times_out_then_receives():
    if comm.rank == 0:
        assert recv_quietly(comm, source=1, tag=77, timeout=0.05) is None
        comm.send("go", dest=1, tag=76)
        msg, src, tag = recv_quietly(comm, source=1, tag=77, timeout=30)
        assert (msg, src, tag) == ("pong", 1, 77)
    elif comm.rank == 1:
        msg, _src, _tag = recv_quietly(comm, source=0, tag=76, timeout=30)
        assert msg == "go"
        comm.send("pong", dest=0, tag=77)
    comm.Barrier()


@pytest.mark.mpi(min_size=2)
def test_idle_wait_uses_little_cpu():
    """A rank waiting 1 s for a message must not spin like MPI_Recv does."""
    if comm.rank == 1:
        t0, c0 = time.monotonic(), time.process_time()
        recv_quietly(comm, source=0, tag=55)
        cpu = (time.process_time() - c0) / (time.monotonic() - t0)
        comm.send(cpu, dest=0, tag=56)
    elif comm.rank == 0:
        time.sleep(1.0)
        comm.send(None, dest=1, tag=55)
        cpu = comm.recv(source=1, tag=56)
        assert cpu < 0.10, f"idle rank used {cpu:.1%} of a core"
    comm.Barrier()
