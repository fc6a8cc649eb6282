"""The whole runner on this MPI world, in-process: every rank calls run_mpi."""
import os

import pytest
from mpi4py import MPI

from parc_mpi.cluster.startup import run_mpi
from parc_mpi.runner import RunOptions
from parc_mpi.store import RunReader

comm = MPI.COMM_WORLD

MAP_JOB = """
import os, parc_mpi
def work(x):
    return {"x": x, "square": x * x, "pid": os.getpid()}
job = parc_mpi.map(work, range(300))
"""


def _write(shared_tmp, text):
    path = os.path.join(shared_tmp, "job.py")
    if comm.rank == 0:
        with open(path, "w") as fh:
            fh.write(text)
    comm.Barrier()
    return path


@pytest.mark.mpi(min_size=2)
def test_map_job_runs_on_every_worker(shared_tmp):
    path = _write(shared_tmp, MAP_JOB)
    run_dir = os.path.join(shared_tmp, "run")
    status = run_mpi(comm, RunOptions(job_path=path, run_dir=run_dir, quiet=True),
                     cache=os.path.join(shared_tmp, "cache"))
    assert status == 0
    comm.Barrier()
    if comm.rank == 0:
        with RunReader(run_dir) as reader:
            rows = [(r.task, r.status, r.worker) for r in reader.final_results()]
        assert [r[0] for r in rows] == list(range(300))
        assert {r[1] for r in rows} == {"ok"}
        assert {r[2] for r in rows} <= set(range(1, comm.size))
        if comm.size > 2:  # with 3+ workers' worth of tasks, more than one worker worked
            assert len({r[2] for r in rows}) > 1


@pytest.mark.mpi(min_size=2)
def test_bad_job_fails_on_every_rank_with_status_2(shared_tmp):
    path = _write(shared_tmp, "import parc_mpi\njob = 42\n")
    status = run_mpi(comm, RunOptions(job_path=path, run_dir=os.path.join(shared_tmp, "r"),
                                      quiet=True), cache=os.path.join(shared_tmp, "cache"))
    assert status == 2
    if comm.rank == 0:
        assert not os.path.exists(os.path.join(shared_tmp, "r", "run.sqlite"))
