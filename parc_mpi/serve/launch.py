"""``python -m parc_mpi.run job.py --serve [HOST:]PORT``: the dashboard beside a run.

Rank 0 binds the port itself (so a port in use is a start-up error naming it, before
any work), then hands the socket to a child process running ``parc_mpi.serve`` on
the run directory: the server never shares rank 0's interpreter (its GIL, its
scheduling loop) and a crash in it cannot take the run down. At the end of the run
the child serves the final state for a moment, then stops; it also leaves when rank 0
disappears.
"""
from __future__ import annotations

import os
import secrets
import select
import socket
import subprocess
import sys
import time
from typing import List, Optional, Sequence, Tuple

LINGER = 2.5   # seconds the final state stays served after the run ends (pages poll 2 s)
READY_TIMEOUT = 30.0


def parse_spec(text: str) -> Tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); ValueError naming it."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "0.0.0.0"
    host = host.strip("[]") or "0.0.0.0"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"--serve {text}: give PORT or HOST:PORT (a port is 0-65535)")
    return host, number


class ServerProcess:
    """The dashboard child process of one run (see the module docstring)."""

    def __init__(self, run_dir: str, spec: str, token: Optional[str] = None,
                 allow_hosts: Sequence[str] = ()):
        host, port = parse_spec(spec)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(64)  # a browser may connect at once; the child accepts soon
        except OSError as exc:
            sock.close()
            hint = " (another dashboard or program has it; pick another port)" \
                if exc.errno == 98 else ""
            raise ValueError(f"--serve {spec}: cannot listen on {host}:{port}: "
                             f"{exc.strerror or exc}{hint}") from None
        self.host, self.port = host, sock.getsockname()[1]
        self.token = token or secrets.token_urlsafe(12)
        env = dict(os.environ)
        for k in list(env):  # the child is no MPI process: hide the launcher's wiring
            if k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPI_LOCALRANK")):
                del env[k]
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "parc_mpi.serve", run_dir, "--fd", str(sock.fileno()),
             # one argument: a random token starts with "-" one time in 64, which
             # argparse would read as an option
             f"--token={self.token}", "--parent", str(os.getpid()), "--ready-fd",
             str(ready_w), *(f"--allow-host={h}" for h in allow_hosts)],
            pass_fds=(sock.fileno(), ready_w), env=env, stdin=subprocess.DEVNULL)
        sock.close()  # the child holds it now
        os.close(ready_w)
        # wait until it serves: its start-up (imports, a third of a second of CPU) then
        # happens before the workers compute, not while they do
        try:
            ready, _w, _x = select.select([ready_r], [], [], READY_TIMEOUT)
            ok = bool(ready) and os.read(ready_r, 1) == b"1"
        finally:
            os.close(ready_r)
        if not ok:
            code = self.proc.poll()
            if code is None:
                self.proc.kill()
                self.proc.wait()
            raise ValueError(f"--serve {spec}: the dashboard did not start "
                             + (f"(exit {code})" if code is not None else
                                f"within {READY_TIMEOUT:.0f} s"))

    def urls(self) -> List[str]:
        from .cli import urls
        return urls(self.host, self.port)

    def announce(self) -> None:
        first, *more = self.urls()
        print(f"[parc_mpi] dashboard: {first}  (stop token {self.token})", flush=True)
        if more:   # the names and addresses a laptop may reach instead
            print(f"[parc_mpi] dashboard also at: {' '.join(more)}", flush=True)

    def stop(self, linger: float = LINGER) -> None:
        """Let the pages see the final state, then end the child."""
        if self.proc.poll() is None and linger > 0:
            time.sleep(linger)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
