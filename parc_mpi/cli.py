"""What every parc_mpi command line shares: its name as the user typed it, a
``--version``, and speaking once under ``mpiexec`` (only rank 0 prints usage, help
and errors; every rank exits 2 on a usage error). No MPI import: the rank comes from
the launcher's environment."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from . import __version__
from .mpienv import launcher_rank


class CliParser(argparse.ArgumentParser):
    def _print_message(self, message: str, file=None) -> None:
        if launcher_rank() in (None, 0):
            super()._print_message(message, file)


def prog_name(module: str, script: Optional[str] = None) -> str:
    """``parc-run`` when started as that console script, else ``python -m parc_mpi.X``."""
    if script and os.path.basename(sys.argv[0] or "") == script:
        return script
    return f"python -m parc_mpi.{module}"


def make_parser(module: str, description: str, epilog: str = "",
                script: Optional[str] = None) -> CliParser:
    p = CliParser(prog=prog_name(module, script), description=description, epilog=epilog,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"parc_mpi {__version__}")
    return p
