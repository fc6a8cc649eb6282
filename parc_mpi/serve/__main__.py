"""``python -m parc_mpi.serve [RUNS_DIR | RUN_DIR]``: the live dashboard."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
