"""The command line of ``python -m parc_mpi.serve``."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import List, Optional

from ..cli import make_parser

EPILOG = """\
examples:
  python -m parc_mpi.serve                       # every run under ./runs, port 8080
  python -m parc_mpi.serve runs/sweep-20261128-101500 --port 9000
  python -m parc_mpi.serve runs --host 127.0.0.1 # this machine only

The server listens on all interfaces by default, so that a laptop on the box's
router can open it: anyone on that network can read the runs (read-only). The one
action, a soft stop, needs the token printed at start. Use --host 127.0.0.1 and an
ssh tunnel on a network you do not trust.
"""


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got '{text}'")
    return port


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("serve", "Serve a live dashboard of parc_mpi runs.", EPILOG)
    p.add_argument("path", nargs="?", default="runs",
                   help="a folder of run directories, or one run directory (default: runs)")
    p.add_argument("--host", default="0.0.0.0",
                   help="address to listen on (default: 0.0.0.0, every interface)")
    p.add_argument("--port", type=port_number, default=8080, help="default: 8080")
    p.add_argument("--token", help="the soft-stop token (default: a random one, printed)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another host name browsers may use to reach the server (IP "
                        "addresses and this machine's names always work)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    # started by `parc_mpi.run --serve`: the socket rank 0 bound, and rank 0's pid
    p.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    return p


def addresses() -> List[str]:
    """This machine's IPv4 addresses other than loopback."""
    import psutil
    out = []
    for nic, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                out.append(a.address)
    return out


def urls(host: str, port: int) -> List[str]:
    """What to type in a browser: the host name first, then its mDNS name (``.local``,
    what a laptop on a home router can often resolve), then the addresses."""
    if host not in ("0.0.0.0", "", "::"):
        return [f"http://{host}:{port}/"]
    short = os.uname().nodename.split(".")[0]
    return [f"http://{os.uname().nodename}:{port}/", f"http://{short}.local:{port}/"] + [
        f"http://{a}:{port}/" for a in addresses()]


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="[parc_mpi] %(message)s", level=logging.INFO)
    logging.getLogger("parc_mpi").setLevel(logging.INFO)
    from .server import make_server
    if not os.path.isdir(args.path):
        print(f"error: {args.path}: no such folder (give a folder of runs or a run "
              "directory)", file=sys.stderr)
        return 2
    sock = None
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    try:
        server = make_server(args.path, args.host, args.port, args.token, args.allow_host,
                             sock=sock, verbose=args.verbose)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
              + (" (another dashboard or program has it; pick another --port)"
                 if exc.errno == 98 else ""),
              file=sys.stderr)
        return 2
    if args.fd is None:
        host, port = server.server_address[:2]
        what = "the run" if server.runs.single else "the runs under"
        print(f"[parc_mpi] dashboard of {what} {os.path.abspath(args.path)}", flush=True)
        for u in urls(args.host, port):
            print(f"[parc_mpi]   open {u}", flush=True)
        print(f"[parc_mpi] stop token (for the Stop button): {server.token}", flush=True)
        if args.host in ("0.0.0.0", "", "::"):
            print("[parc_mpi] listening on every interface: anyone on this network can "
                  "read these runs; --host 127.0.0.1 keeps it to this machine", flush=True)

    if args.ready_fd is not None:  # tell rank 0 we serve
        os.write(args.ready_fd, b"1")
        os.close(args.ready_fd)

    def stop(*_a) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    if args.parent:
        def watch() -> None:  # the run's rank 0 is gone (crashed, killed): go too
            while os.getppid() == args.parent:
                time.sleep(0.5)
            stop()
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
