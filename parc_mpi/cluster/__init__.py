"""The MPI layer: the only package (with two monitor modules) that imports mpi4py."""
