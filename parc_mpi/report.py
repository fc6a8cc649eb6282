"""``python -m parc_mpi.report RUN_DIR``: rebuild a run's HTML report from its store."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

EPILOG = """\
examples:
  python -m parc_mpi.report runs/pi_montecarlo-20261125-101500
  python -m parc_mpi.report runs/my-run --self-contained   # one file to mail or archive
"""


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parc_mpi.report", epilog=EPILOG,
                                 description="Write report.html and plots/*.png for a run "
                                             "directory, from its run.sqlite alone.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    ap.add_argument("--self-contained", action="store_true",
                    help="embed the plots in the HTML (base64) so it is one file")
    args = ap.parse_args(argv)
    from .monitor.report import build_report
    try:
        path = build_report(args.run_dir, self_contained=args.self_contained)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
