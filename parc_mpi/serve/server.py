"""The dashboard's HTTP server: the standard library's threaded server, the pages in
``static/``, the JSON of :mod:`.api`, and one write: a soft stop guarded by a token.

Safety rules, each tested:
- a run id is looked up among the run directories found by listing the served
  folder, never joined to a path; static files come from a fixed list;
- answers only requests whose ``Host`` is an IP address, ``localhost``, this
  machine's name or one allowed with ``--allow-host`` (a DNS-rebinding page cannot
  reach it through a name of its own);
- the stop needs ``POST``, ``Content-Type: application/json``, the token in
  ``X-Parc-Token`` and no foreign ``Origin``; anything else is 403;
- every page is served with a strict Content-Security-Policy; the pages put text in
  with ``textContent`` only, so a task's error ``<script>`` shows as text;
- a failing request answers 500 with one line and the server goes on.
"""
from __future__ import annotations

import gzip
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable, Dict, Iterable, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from ..store import RunReader, StoreError
from ..store.frame import FilterError, ResultFrame
from ..store.schema import STOP_FILE
from ..store.export import write_csv
from . import api, views

log = logging.getLogger("parc_mpi.serve")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
STATIC = {  # URL name -> (file under static/, content type)
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    "uPlot.LICENSE": ("vendor/uPlot.LICENSE", "text/plain; charset=utf-8"),
}
MAX_FRAMES = 4        # runs whose results are kept as columns (about 10 MB per
#                       100,000 results): the four most recently viewed
CACHE_SECONDS = 1.0   # a status is recomputed at most this often, however many clients
SLOW_VIEWS = {"activity": 5.0, "views": 5.0, "explore": 5.0}   # ... and these, of a
#                                 running run, at most every 5 s (they read every row)


def _load_static() -> Dict[str, Tuple[bytes, bytes, str]]:
    """Every asset read once: name -> (bytes, gzipped bytes, content type)."""
    root = resources.files("parc_mpi.serve") / "static"
    out = {}
    for name, (rel, ctype) in list(STATIC.items()) + [("index.html", ("index.html",
                                                      "text/html; charset=utf-8"))]:
        data = (root / rel).read_bytes()
        out[name] = (data, gzip.compress(data, 9, mtime=0), ctype)
    return out


class Runs:
    """The run directories being served, found by listing (never by joining input).

    ``root`` is a folder of run directories, or one run directory."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.single = os.path.isfile(os.path.join(self.root, "run.sqlite"))
        self._listing: Dict[str, str] = {}
        self._listed_at = 0.0
        self._lock = threading.Lock()

    def listing(self) -> Dict[str, str]:
        """run id -> directory, newest first; re-listed at most once a second."""
        with self._lock:
            if time.monotonic() - self._listed_at < 1.0:
                return self._listing
            if self.single:
                found = {os.path.basename(self.root): self.root}
            else:
                found = {}
                try:
                    entries = list(os.scandir(self.root))
                except OSError:
                    entries = []
                for e in entries:
                    try:
                        if e.is_dir(follow_symlinks=False) and os.path.isfile(
                                os.path.join(e.path, "run.sqlite")):
                            found[e.name] = e.path
                    except OSError:
                        continue
                found = dict(sorted(found.items(), key=lambda kv: _mtime(kv[1]),
                                    reverse=True))
            self._listing, self._listed_at = found, time.monotonic()
            return found

    def find(self, run_id: str) -> Optional[str]:
        return self.listing().get(run_id)


def _mtime(path: str) -> float:
    try:
        return os.stat(os.path.join(path, "run.sqlite")).st_mtime
    except OSError:
        return 0.0


def store_version(run_dir: str) -> tuple:
    """Changes whenever the run's store, its stop request or its lock changes."""
    out = []
    for name in ("run.sqlite", "run.sqlite-wal", STOP_FILE, "run.lock"):
        try:
            st = os.stat(os.path.join(run_dir, name))
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


class Cache:
    """Answers by (run, call, query), kept while the store is unchanged (and at most
    ``CACHE_SECONDS`` for answers that show the clock): five browsers polling cost
    one read a second, not five."""

    def __init__(self) -> None:
        self._d: Dict[tuple, Tuple[tuple, float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, version: tuple, clocked: bool,
            make: Callable[[], bytes], min_age: float = 0.0) -> bytes:
        """The answer for ``key``; ``min_age``: reused for that long even when the store
        changed (the plots and the task stream need no refresh every second)."""
        now = time.monotonic()
        with self._lock:
            hit = self._d.get(key)
        if hit and ((hit[0] == version and (not clocked or now - hit[1] < CACHE_SECONDS))
                    or now - hit[1] < min_age):
            return hit[2]
        body = make()
        with self._lock:
            if len(self._d) > 500:
                self._d.clear()
            self._d[key] = (version, now, body)
        return body


class Dashboard(ThreadingHTTPServer):
    """The server: ``Runs`` to serve, the token for the stop, allowed host names."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, runs: Runs, token: str, allow_hosts: Iterable[str] = (),
                 sock: Optional[socket.socket] = None, verbose: bool = False):
        super().__init__(addr, Handler, bind_and_activate=sock is None)
        if sock is not None:
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()[:2]
            self.server_activate()
        self.runs = runs
        self.token = token
        self.verbose = verbose
        self.cache = Cache()
        self.static = _load_static()
        names = {"localhost", socket.gethostname(), socket.getfqdn(),
                 os.uname().nodename}
        # the machine's mDNS name too (pi0.local, what the Pi guide's node list and a
        # laptop on a home router use): .local resolves only on the local network, so a
        # DNS-rebinding page elsewhere cannot borrow it
        names |= {f"{n.split('.')[0]}.local" for n in set(names) if n and n != "localhost"}
        self.allow_hosts = {n.lower() for n in names | set(allow_hosts) if n}
        self.requests = 0
        self._trackers: Dict[str, api.Tracker] = {}
        self._frames: "OrderedDict[str, ResultFrame]" = OrderedDict()
        self._trackers_lock = threading.Lock()

    def tracker(self, run_dir: str) -> api.Tracker:
        """The run's incremental counts, kept between requests."""
        with self._trackers_lock:
            t = self._trackers.get(run_dir)
            if t is None:
                t = self._trackers[run_dir] = api.Tracker(run_dir)
            return t

    def frame(self, run_dir: str, warm: bool = False) -> ResultFrame:
        """The run's results as columns, kept between requests and folded as they
        come; ``warm`` reads a new one in a thread (a 100,000-task store takes a
        second, so a run's first page starts it and the views find it ready)."""
        with self._trackers_lock:
            f = self._frames.get(run_dir)
            if f is not None:
                self._frames.move_to_end(run_dir)
                return f
            f = self._frames[run_dir] = ResultFrame()
            while len(self._frames) > MAX_FRAMES:   # a Pi's memory: the least recent go
                self._frames.popitem(last=False)
        if warm:
            def fill():
                try:
                    with RunReader(run_dir) as r:
                        f.fold(r)
                except Exception as exc:  # the views will say it again, with a page
                    log.info("dashboard: reading %s: %s", run_dir, exc)
            threading.Thread(target=fill, daemon=True, name="parc-frame").start()
        return f

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the browser went away
        log.warning("dashboard: request from %s failed: %s: %s", client_address[0],
                    type(exc).__name__, exc)


def host_allowed(host_header: Optional[str], allowed: set) -> bool:
    """Is the ``Host`` header an IP literal, or a name we answer to?"""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1:host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":")[0]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in allowed


class Handler(BaseHTTPRequestHandler):
    server: Dashboard
    timeout = 15            # an idle or slow client does not hold a thread for ever
    server_version = "parc_mpi-dashboard"
    sys_version = ""

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.verbose:
            log.info("%s %s", self.address_string(), fmt % args)

    # -- answers ----------------------------------------------------------------
    def _send(self, code: int, body: bytes, ctype: str, extra: Optional[dict] = None
              ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else _dumps(payload)
        self._send(code, body, "application/json", {"Cache-Control": "no-store"})

    def _error(self, code: int, message: str) -> None:
        self._json(code, {"error": message})

    def _static(self, name: str) -> None:
        data, zipped, ctype = self.server.static[name]
        extra = {"Cache-Control": "no-cache" if name == "index.html" else "max-age=300"}
        if name == "index.html":
            extra["Content-Security-Policy"] = CSP
            extra["X-Frame-Options"] = "DENY"
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            extra["Content-Encoding"] = "gzip"
            data = zipped
        extra["Vary"] = "Accept-Encoding"
        self._send(200, data, ctype, extra)

    # -- routing ----------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.server.requests += 1
        if not host_allowed(self.headers.get("Host"), self.server.allow_hosts):
            return self._error(403, "this dashboard does not answer to that host name "
                                    "(start it with --allow-host NAME)")
        url = urlsplit(self.path)
        parts = _segments(url.path)
        if parts is None:
            return self._error(404, "not found")
        query = parse_qs(url.query)
        try:
            self._route_get(parts, query)
        except (BadRequest, FilterError) as exc:
            self._error(400, f"bad request: {exc}")
        except api.NotFound as exc:
            self._error(404, str(exc))
        except StoreError as exc:
            self._error(503, str(exc))
        except (ConnectionError, TimeoutError):
            raise
        except Exception as exc:  # one line on the page and the console; serving goes on
            log.warning("dashboard: %s failed: %s: %s", self.path, type(exc).__name__, exc)
            self._error(500, f"{type(exc).__name__}: {exc}")

    def _route_get(self, parts, query) -> None:
        if parts in ([], ["index.html"]):
            return self._static("index.html")
        if len(parts) == 2 and parts[0] == "static" and parts[1] in STATIC:
            return self._static(parts[1])
        if parts == ["favicon.ico"]:
            return self._send(204, b"", "image/x-icon")
        if parts[:2] == ["api", "runs"]:
            if len(parts) == 2:
                return self._json(200, self._runs())
            run_dir = self.server.runs.find(parts[2])
            if run_dir is None:
                return self._error(404, "no such run")
            return self._run_get(parts[2], run_dir, parts[3:], query)
        return self._error(404, "not found")

    def _runs(self) -> Dict[str, Any]:
        runs = self.server.runs
        rows = []
        for run_id, run_dir in runs.listing().items():
            key = ("summary", run_id)
            rows.append(json.loads(self.server.cache.get(
                key, store_version(run_dir), True,
                lambda: _dumps(api.run_summary(run_id, run_dir,
                                               self.server.tracker(run_dir))))))
        return {"api": api.API_VERSION, "root": runs.root, "single": runs.single,
                "host": os.uname().nodename, "runs": rows}

    def _run_get(self, run_id: str, run_dir: str, rest, query) -> None:
        q = {k: v[-1] for k, v in query.items()}
        what = rest[0] if rest else "status"
        if len(rest) > 1:
            return self._error(404, "not found")
        if what == "results.csv":
            return self._csv(run_id, run_dir)
        if what == "table.csv":
            return self._table_csv(run_id, run_dir, q)
        frame = lambda: self.server.frame(run_dir)  # noqa: E731
        calls: Dict[str, Tuple[bool, Callable[[], Any]]] = {
            "status": (True, lambda: api.status(run_id, run_dir,
                                                tracker=self.server.tracker(run_dir))),
            "nodes": (True, lambda: api.nodes(run_dir, tracker=self.server.tracker(run_dir))),
            "results": (False, lambda: api.results(
                run_dir, _number(q, "after", 0), _number(q, "limit"),
                _status(q.get("status")))),
            "table": (False, lambda: api.table(
                run_dir, _number(q, "page", 0), _number(q, "size", 50),
                q.get("sort") or "task",
                _choice(q, "order", ("asc", "desc")) == "desc", _status(q.get("status")),
                _clauses(q), frame())),
            "views": (False, lambda: _folded(run_dir, frame(), views.sweep)),
            "explore": (False, lambda: _folded(
                run_dir, frame(), lambda f: views.optimization(f, _space(run_dir)))),
            "activity": (False, lambda: views.activity(run_dir)),
            "task": (False, lambda: api.task_detail(run_dir, _number(q, "task", 0))),
            "samples": (False, lambda: api.samples(
                run_dir, _number(q, "since", kind=float), q.get("node"), _number(q, "limit"))),
            "failures": (False, lambda: api.failures(run_dir, _number(q, "limit"))),
            "optimization": (False, lambda: api.optimization(run_dir)),
            "network": (False, lambda: api.network(run_dir)),
        }
        if what not in calls:
            return self._error(404, "not found")
        clocked, make = calls[what]
        key = (what, run_id, tuple(sorted(q.items())))
        body = self.server.cache.get(key, store_version(run_dir), clocked,
                                     lambda: _dumps(make()), SLOW_VIEWS.get(what, 0.0))
        self._json(200, body)
        if what == "status":   # after the answer: the first look is not slowed by it
            self.server.frame(run_dir, warm=True)

    def _table_csv(self, run_id: str, run_dir: str, q: Dict[str, str]) -> None:
        """The table as the page shows it (sorted, filtered), every page of it, in
        results.csv's columns."""
        from ..store.export import rows_csv
        sort = q.get("sort") or "task"
        descending = _choice(q, "order", ("asc", "desc")) == "desc"
        clauses = _clauses(q) + ([f"status={_status(q.get('status'))}"]
                                 if _status(q.get("status")) else [])
        data = rows_csv(api.table_rows(run_dir, sort, descending, clauses,
                                       self.server.frame(run_dir)))
        self._send(200, data, "text/csv; charset=utf-8", {
            "Content-Disposition": f'attachment; filename="{_safe_name(run_id)}-table.csv"',
            "Cache-Control": "no-store"})

    def _csv(self, run_id: str, run_dir: str) -> None:
        """results.csv as written at the end of the run, or made now from the store."""
        path = os.path.join(run_dir, "results.csv")
        with RunReader(run_dir) as r:
            status = api.run_liveness(run_dir, r.meta())
            if status == "running" or not os.path.isfile(path):
                fd, tmp = tempfile.mkstemp(prefix="parc-dash-", suffix=".csv")
                os.close(fd)
                try:
                    write_csv(tmp, r)
                    with open(tmp, "rb") as fh:
                        data = fh.read()
                finally:
                    os.remove(tmp)
            else:
                with open(path, "rb") as fh:
                    data = fh.read()
        self._send(200, data, "text/csv; charset=utf-8", {
            "Content-Disposition": f'attachment; filename="{_safe_name(run_id)}.csv"',
            "Cache-Control": "no-store"})

    def do_POST(self) -> None:
        self.server.requests += 1
        if not host_allowed(self.headers.get("Host"), self.server.allow_hosts):
            return self._error(403, "this dashboard does not answer to that host name")
        parts = _segments(urlsplit(self.path).path)
        if not parts or len(parts) != 4 or parts[:2] != ["api", "runs"] or parts[3] != "stop":
            return self._error(404, "not found")
        run_dir = self.server.runs.find(parts[2])
        if run_dir is None:
            return self._error(404, "no such run")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        origin = self.headers.get("Origin")
        token = self.headers.get("X-Parc-Token") or ""
        if ctype != "application/json":
            return self._error(403, "a stop must be sent as application/json")
        if origin and urlsplit(origin).netloc.lower() != (self.headers.get("Host") or "").lower():
            return self._error(403, "a stop from another site is refused")
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            return self._error(403, "wrong or missing token: the server printed it at "
                                    "start (or give --token)")
        with RunReader(run_dir) as r:
            status = api.run_liveness(run_dir, r.meta())
        if status != "running":
            return self._error(409, f"the run is not running ({status})")
        path = os.path.join(run_dir, STOP_FILE)
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"soft stop from the dashboard ({self.client_address[0]}) at "
                         f"{time.strftime('%H:%M:%S')}\n")
        except OSError as exc:
            return self._error(500, f"cannot write {path}: {exc.strerror}")
        log.warning("dashboard: soft stop of %s requested from %s", run_dir,
                    self.client_address[0])
        self._json(200, {"stop_requested": True, "run": parts[2]})


def _segments(path: str) -> Optional[list]:
    """URL path segments, each percent-decoded once. None for anything odd (a NUL, a
    backslash, bad UTF-8, an empty, ``.`` or ``..`` segment): such a request reads
    nothing."""
    try:
        parts = [unquote(p, errors="strict") if "%" in p else p for p in path.split("/")[1:]]
    except UnicodeDecodeError:  # overlong or broken UTF-8 (%c0%ae): not a name we serve
        return None
    if parts and parts[-1] == "":
        parts = parts[:-1]
    for p in parts:
        if p in ("", ".", "..") or "\x00" in p or "\\" in p or "/" in p:
            return None
    return parts


class BadRequest(ValueError):
    """A query parameter that cannot be used (400, naming it)."""


def _number(q: Dict[str, str], key: str, default=None, kind=int):
    """The query parameter ``key`` as ``kind`` (int or float), ``default`` when absent."""
    if key not in q:
        return default
    try:
        return kind(q[key])
    except ValueError:
        raise BadRequest(f"{key} must be {'an integer' if kind is int else 'a number'}"
                         ) from None


def _choice(q: Dict[str, str], key: str, allowed: tuple) -> str:
    value = q.get(key, allowed[0])
    if value not in allowed:
        raise BadRequest(f"{key} must be one of {', '.join(allowed)}")
    return value


def _clauses(q: Dict[str, str]) -> list:
    """The table's filter: clauses separated by ``;`` (``alpha>0.5;node=pi2``)."""
    return [c for c in (q.get("filter") or "").split(";") if c.strip()]


def _folded(run_dir: str, frame: ResultFrame, make: Callable[[ResultFrame], Any]) -> Any:
    with RunReader(run_dir) as r:
        frame.fold(r)
    return make(frame)


def _space(run_dir: str) -> Optional[Dict[str, Any]]:
    with RunReader(run_dir) as r:
        return (r.meta().get("job") or {}).get("space")


def _status(s: Optional[str]) -> Optional[str]:
    if s in (None, "", "all"):
        return None
    if s not in ("ok", "failed", "timeout", "killed"):
        raise BadRequest("status must be ok, failed, timeout, killed or all")
    return s


def _safe_name(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)[:100] or "results"


def _dumps(payload: Any) -> bytes:
    """Strict JSON (a browser's JSON.parse takes no NaN): NaN and infinities, wherever
    they hide (a health sample, a parameter), become null."""
    try:
        text = json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(payload), separators=(",", ":"), default=str,
                          allow_nan=False)
    return text.encode("utf-8")


def _finite(x: Any) -> Any:
    if isinstance(x, float):
        return x if x == x and x not in (float("inf"), float("-inf")) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def make_server(root: str, host: str = "0.0.0.0", port: int = 8080,
                token: Optional[str] = None, allow_hosts: Iterable[str] = (),
                sock: Optional[socket.socket] = None, verbose: bool = False) -> Dashboard:
    """A dashboard for ``root`` (not yet serving: call ``serve_forever``)."""
    return Dashboard((host, port), Runs(root), token or secrets.token_urlsafe(12),
                     allow_hosts, sock=sock, verbose=verbose)
