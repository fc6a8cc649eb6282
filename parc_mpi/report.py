"""``python -m parc_mpi.report RUN_DIR``: rebuild a run's HTML report from its store."""
from __future__ import annotations

import sys
import time
from typing import List, Optional


EPILOG = """\
examples:
  python -m parc_mpi.report runs/pi_montecarlo-20261125-101500
  python -m parc_mpi.report runs/my-run --self-contained   # one file to mail or archive
  python -m parc_mpi.report runs/my-run --profile          # where the CPU time goes
"""


def main(argv: Optional[List[str]] = None) -> int:
    from .cli import make_parser
    ap = make_parser("report", "Write report.html and plots/*.png for a run directory, from "
                     "its run.sqlite alone.", EPILOG)
    ap.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    ap.add_argument("--self-contained", action="store_true",
                    help="embed the plots in the HTML (base64) so it is one file")
    ap.add_argument("--profile", action="store_true",
                    help="print the CPU seconds of each step (reading, each figure, the "
                         "HTML) and the functions that cost most")
    args = ap.parse_args(argv)
    cpu0 = time.process_time()
    from .monitor.report import Reporter
    reporter = Reporter(args.run_dir)
    prof = None
    if args.profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    from .store import StoreError
    try:
        path = reporter.render(self_contained=args.self_contained)
    except (FileNotFoundError, StoreError) as exc:  # no run here, or a damaged store
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    if prof is not None:
        prof.disable()
        total = time.process_time() - cpu0
        print(f"{'step':<28}{'CPU s':>8}")
        for step, secs in reporter.cpu.items():
            print(f"{step:<28}{secs:>8.3f}")
        print(f"{'total (with imports)':<28}{total:>8.3f}")
        import pstats
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    sys.exit(main())


class _CallableModule(type(sys)):
    """``parc_mpi.report`` is two things: this command's module and the function
    objectives call (``parc_mpi.report(step, value)``, parc_mpi/progress.py). Once
    something imports this module, the package attribute names the module: calling
    it must still report progress."""

    def __call__(self, step, value):
        from .progress import report
        return report(step, value)


sys.modules[__name__].__class__ = _CallableModule
