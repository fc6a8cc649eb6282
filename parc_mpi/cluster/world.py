"""Are we under a launcher? The one question the serial paths ask of MPI."""
import os

# what each launcher tells its processes about the world it started: MPICH's Hydra
# (and Slurm's pmi2), Open MPI, PMIx, an srun step
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS")


class WorldMismatch(RuntimeError):
    """The launcher started several processes, but MPI gave each a world of its own."""


def launched_size():
    """(variable, the number of processes the launcher says it started), or None."""
    for var in SIZE_VARS:
        try:
            size = int(os.environ.get(var, ""))
        except ValueError:
            continue
        return var, size
    return None


def mismatch_words(var: str, size: int) -> str:
    """Why a launcher's N processes each got a world of 1, and the fix."""
    if var == "SLURM_STEP_NUM_TASKS":
        mpi = os.environ.get("SLURM_MPI_TYPE", "none")
        return (f"srun started {size} tasks but MPI gave each a world of 1: srun's "
                f"--mpi={mpi} is not a PMI that mpi4py's MPI speaks; use srun --mpi=pmi2 "
                "for MPICH (the mpich extra, Debian's mpich), --mpi=pmix for Open MPI "
                "(srun --mpi=list shows what this Slurm has)")
    return (f"the launcher started {size} processes ({var}={size}) but MPI gave each a "
            "world of 1: mpiexec and mpi4py's MPI library are not the same MPI; run the "
            "mpiexec of the MPI mpi4py was built with (python -m mpi4py --mpi-library)")


def world():
    """The MPI world communicator when this process is one of several ranks, else None
    (no mpi4py, a one-rank world, or ``PARC_MPI_SERIAL`` set). Raises WorldMismatch when
    a launcher started several processes that MPI did not join into one world: each
    would otherwise run the whole job on its own, into the same run directory."""
    if os.environ.get("PARC_MPI_SERIAL"):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    if MPI.COMM_WORLD.size > 1:
        return MPI.COMM_WORLD
    launched = launched_size()
    if launched and launched[1] > 1:
        raise WorldMismatch(mismatch_words(*launched))
    return None
