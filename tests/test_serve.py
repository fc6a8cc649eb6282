"""The dashboard (parc_mpi.serve): its JSON API on real runs, its safety rules
(traversal, host names, the token-guarded stop, escaping), a damaged store, a run
that ends while watched, ``--serve`` on a run, and the pages in a real browser."""
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import parc_mpi
from browser import Browser
from conftest import ROOT, needs_chromium, python_cmd, run_cmd
from faults import start
from parc_mpi.serve import api
from parc_mpi.serve.server import make_server
from parc_mpi.store import RunReader, Store, lock_run

SWEEP = """
import parc_mpi

def f(x):
    if x == 3:
        raise ValueError("<script>alert(1)</script> & <b>bold</b>")
    return {"square": x * x, "half": x / 2}

job = parc_mpi.map(f, range(40), name="sweep <i>")
"""

OPT = """
import parc_mpi

def f(x, y):
    return (x - 1) ** 2 + (y + 2) ** 2

job = parc_mpi.optimize(f, {"x": parc_mpi.Real(-5, 5), "y": parc_mpi.Real(-5, 5)}, budget=30, goal="min", seed=3)
"""

SLOW = """
import time, parc_mpi

def f(x):
    time.sleep(0.05)
    return x

job = parc_mpi.map(f, range(60), name="slow")
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A folder with two finished runs made by the real command: a sweep with a
    failure whose message is HTML, and an optimization."""
    root = tmp_path_factory.mktemp("runs")
    work = tmp_path_factory.mktemp("jobs")
    for name, source in (("sweep", SWEEP), ("opt", OPT)):
        job = work / f"{name}.py"
        job.write_text(source)
        done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", root / name,
                                  "--allow-failures", "-q"))
        assert done.returncode == 0, done
    return root


def post(url, headers=None, body=b"{}"):
    """(status, JSON body) of a POST; errors are answers too."""
    req = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Served:
    """A dashboard in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, root, token="secret-token"):
        self.server = make_server(str(root), "127.0.0.1", 0, token)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path, headers=None):
        """(status, body bytes, headers) of a GET; errors are answers too."""
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def json(self, path):
        code, body, _h = self.get(path)
        assert code == 200, (path, code, body)
        return json.loads(body)

    def post(self, path, headers=None, body=b"{}"):
        return post(self.base + path, headers, body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def served(runs):
    s = Served(runs)
    yield s
    s.close()


def test_the_runs_list_and_a_runs_status(served):
    listing = served.json("/api/runs")
    by_id = {r["id"]: r for r in listing["runs"]}
    assert set(by_id) == {"sweep", "opt"}
    assert by_id["sweep"]["status"] == "finished" and by_id["sweep"]["tasks"] == 40
    assert by_id["sweep"]["total"] == 40 and by_id["sweep"]["kind"] == "map"
    assert by_id["opt"]["total"] == 30 and by_id["opt"]["duration"] > 0
    s = served.json("/api/runs/sweep")
    assert (s["done"], s["ok"], s["failed"], s["total"]) == (40, 39, 1, 40)
    assert s["status"] == "finished" and s["eta_seconds"] is None
    assert s["tasks_per_second"] > 0 and s["name"] == "sweep <i>"
    assert any("1 of 40 tasks failed" in a["text"] for a in s["alerts"])
    o = served.json("/api/runs/opt")
    with RunReader(str(served.server.runs.find("opt"))) as r:
        best = r.best(1)[0]
    assert o["best"]["value"] == best.value and o["best"]["params"] == best.params
    assert o["goal"] == "min"


def test_results_follow_a_cursor_and_the_table_sorts_filters_and_pages(served):
    first = served.json("/api/runs/sweep/results?after=0&limit=15")
    assert [r["seq"] for r in first["results"]] == list(range(1, 16))
    rest = served.json(f"/api/runs/sweep/results?after={first['next_after']}&limit=1000")
    assert len(first["results"]) + len(rest["results"]) == 40 == rest["last_seq"]
    row = next(r for r in first["results"] if r["task"] == 5)
    assert row["inputs"] == {"item": 5} and row["outputs"] == {"result.square": 25,
                                                               "result.half": 2.5}
    failed = served.json("/api/runs/sweep/table?status=failed")
    assert failed["total"] == 1 and failed["rows"][0]["task"] == 3
    assert failed["rows"][0]["error"].startswith("ValueError: <script>")
    page = served.json("/api/runs/opt/table?sort=value&order=desc&size=7&page=1")
    assert page["total"] == 30 and len(page["rows"]) == 7
    with RunReader(str(served.server.runs.find("opt"))) as r:
        values = sorted((x.value for x in r.final_results()), reverse=True)
    assert [x["value"] for x in page["rows"]] == values[7:14]
    for bad in ("sort=params", "order=up", "page=x", "status=weird"):
        code, body, _h = served.get(f"/api/runs/opt/table?{bad}")
        assert code == 400 and b"bad request" in body, bad


def test_nodes_samples_failures_optimization_network_and_csv(served):
    nodes = served.json("/api/runs/sweep/nodes")["nodes"]
    assert [n["node"] for n in nodes] == [os.uname().nodename]
    n = nodes[0]
    assert n["tasks"] == 40 and n["samples"] >= 1 and n["state"] in ("ok", "warm", "alert")
    assert len(n["history"]["t"]) == len(n["history"]["load_pct"]) >= 1
    samples = served.json("/api/runs/sweep/samples")["samples"]
    later = served.json(f"/api/runs/sweep/samples?since={samples[0]['t']}")["samples"]
    assert len(later) == len(samples) - 1 and "mem_percent" in samples[0]
    f = served.json("/api/runs/sweep/failures")
    assert f["failed_tasks"] == 1 and "Traceback" in f["failures"][0]["traceback"]
    o = served.json("/api/runs/opt/optimization")
    steps = o["steps"]
    assert steps["evaluation"][-1] == 30 == o["evaluations"]
    assert steps["best"] == sorted(steps["best"], reverse=True)  # never gets worse
    assert o["top"][0]["value"] == min(steps["best"]) and len(o["top"]) == 10
    assert served.json("/api/runs/sweep/optimization")["kind"] == "map"
    assert served.json("/api/runs/sweep/network") == {"source": "", "loaded": {}, "figures": [],
                                                     "pairs": []}
    code, body, headers = served.get("/api/runs/sweep/results.csv")
    assert code == 200 and headers["Content-Type"].startswith("text/csv")
    assert body == Path(served.server.runs.find("sweep"), "results.csv").read_bytes()


@pytest.mark.parametrize("path", [
    "/api/runs/..", "/api/runs/../sweep", "/api/runs/..%2f..%2fetc%2fpasswd",
    "/api/runs/%2e%2e", "/api/runs/%2e%2e%2fsweep", "/api/runs/%252e%252e%252f",
    "/api/runs/%c0%ae%c0%ae%c0%af", "/api/runs/%2fetc%2fpasswd", "/api/runs//etc/passwd",
    "/api/runs/sweep%00", "/api/runs/..%5c..%5c", "/static/..%2fserver.py",
    "/static/../server.py", "/static/vendor/uPlot.LICENSE", "/api/runs/nope",
    "/api/runs/sweep/..%2f..%2fopt", "/api/runs/sweep/results.csv/..", "/etc/passwd"])
def test_paths_that_leave_the_runs_folder_or_name_no_run_get_404(served, path):
    code, body, _h = served.get(path)
    assert code == 404, (path, code, body)
    assert b"root:" not in body and b"import" not in body


def test_a_symlink_in_the_runs_folder_is_not_followed(runs, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "elsewhere").symlink_to(runs / "sweep")
    with Served(root) as s:
        assert s.json("/api/runs")["runs"] == []
        assert s.get("/api/runs/elsewhere")[0] == 404


def test_a_foreign_host_name_is_refused(served):
    """A page on another site that rebinds its own name to this address cannot read."""
    code, _b, _h = served.get("/api/runs", {"Host": "attacker.example:8080"})
    assert code == 403
    assert served.get("/api/runs", {"Host": "localhost:1"})[0] == 200
    assert served.get("/api/runs", {"Host": f"{os.uname().nodename}:80"})[0] == 200
    # the machine's mDNS name, what the Pi guide's node list says (pi0.local)
    short = os.uname().nodename.split(".")[0]
    assert served.get("/api/runs", {"Host": f"{short}.local:8090"})[0] == 200
    assert served.get("/api/runs", {"Host": "attacker.local:8090"})[0] == 403


def test_pages_are_small_self_hosted_and_locked_down_by_csp(served):
    code, page, headers = served.get("/")
    assert code == 200 and b"static/app.js" in page
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    total = len(page)
    for name in ("app.js", "app.css", "uPlot.iife.min.js", "uPlot.min.css"):
        code, body, _h = served.get(f"/static/{name}")
        assert code == 200 and body
        total += len(body)
    assert total < 300_000, total
    assert b"http://" not in page and b"https://" not in page  # no CDN: the box is offline
    code, zipped, headers = served.get("/static/uPlot.iife.min.js",
                                       {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and len(zipped) < 30_000


def fake_running_run(root, name="live"):
    """A run that is going as far as a reader can tell: status running, and run.lock
    held by this process (as rank 0 holds it)."""
    (root / name).mkdir()
    store = Store(str(root / name))
    lock = lock_run(str(root / name))
    store.set_meta(status="running", started=time.time(), name=name,
                   job={"kind": "map", "total": 10})
    return store, lock


def test_the_soft_stop_needs_the_token_json_and_no_foreign_origin(tmp_path):
    store, lock = fake_running_run(tmp_path)
    s = Served(tmp_path, token="right")
    stop = tmp_path / "live" / "STOP"
    try:
        assert s.json("/api/runs/live")["status"] == "running"
        json_ = {"Content-Type": "application/json"}
        for headers in ({}, json_, dict(json_, **{"X-Parc-Token": "wrong"}),
                        {"Content-Type": "text/plain", "X-Parc-Token": "right"},
                        {"Content-Type": "application/x-www-form-urlencoded",
                         "X-Parc-Token": "right"},
                        dict(json_, **{"X-Parc-Token": "right",
                                       "Origin": "http://attacker.example"})):
            code, body = s.post("/api/runs/live/stop", headers)
            assert code == 403 and "error" in body, (headers, code, body)
            assert not stop.exists()
        assert s.post("/api/runs/nope/stop", dict(json_, **{"X-Parc-Token": "right"}))[0] == 404
        code, body = s.post("/api/runs/live/stop", dict(json_, **{"X-Parc-Token": "right"}))
        assert code == 200 and body["stop_requested"] and stop.exists()
        assert s.json("/api/runs/live")["stop_requested"] is True
        assert s.get("/api/runs/live/stop")[0] == 404  # a GET never writes
    finally:
        s.close()
        store.close()
        lock.close()


def test_the_run_s_dashboard_takes_a_token_that_starts_with_a_dash(tmp_path):
    """--serve's child gets the token as one argument: a random token starts with "-"
    one time in 64, and as a separate argument argparse took it for an option, so the
    dashboard did not start."""
    from parc_mpi.serve.launch import ServerProcess
    store, lock = fake_running_run(tmp_path)
    child = ServerProcess(str(tmp_path / "live"), "127.0.0.1:0", token="-Ab_c-")
    try:
        code, body = post(f"http://127.0.0.1:{child.port}/api/runs/live/stop",
                          {"Content-Type": "application/json", "X-Parc-Token": "-Ab_c-"})
        assert code == 200 and body["stop_requested"], (code, body)
        assert (tmp_path / "live" / "STOP").exists()
    finally:
        child.stop(linger=0)
        store.close()
        lock.close()


def test_the_run_s_dashboard_answers_to_allow_host_and_says_every_url(tmp_path, capsys):
    """run --serve --allow-host NAME: the run's dashboard answers to NAME too (and to
    the machine's .local name), and the start line is followed by the other URLs a
    laptop can use: the .local name and the addresses."""
    from parc_mpi.serve.launch import ServerProcess
    store, lock = fake_running_run(tmp_path)
    child = ServerProcess(str(tmp_path / "live"), "0.0.0.0:0", allow_hosts=["box.lab"])
    try:
        base = f"http://127.0.0.1:{child.port}/api/runs"
        for host, code in (("box.lab", 200), ("other.lab", 403)):
            req = urllib.request.Request(base, headers={"Host": f"{host}:{child.port}"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    got = r.status
            except urllib.error.HTTPError as e:
                got = e.code
            assert got == code, host
        child.announce()
        lines = capsys.readouterr().out.splitlines()
        short = os.uname().nodename.split(".")[0]
        assert lines[0].startswith(f"[parc_mpi] dashboard: http://{os.uname().nodename}:")
        assert lines[1].startswith(f"[parc_mpi] dashboard also at: http://{short}.local:"
                                   f"{child.port}/ http://"), lines
    finally:
        child.stop(linger=0)
        store.close()
        lock.close()


def test_a_run_whose_process_died_shows_as_crashed_and_cannot_be_stopped(tmp_path):
    store, lock = fake_running_run(tmp_path)
    (tmp_path / "live" / "run.lock").write_text(f"pid 999999999 on {os.uname().nodename}\n")
    try:
        with Served(tmp_path, token="t") as s:
            assert s.json("/api/runs/live")["status"] == "crashed"
            # load() says what the dashboard says (it said "running")
            assert parc_mpi.load(str(tmp_path / "live")).status == "crashed"
            code, body = s.post("/api/runs/live/stop", {"Content-Type": "application/json",
                                                        "X-Parc-Token": "t"})
            assert code == 409 and "crashed" in body["error"]
    finally:
        store.close()
        lock.close()


def test_a_resumed_run_that_crashed_shows_this_session_s_figures(tmp_path):
    """Resumed after a Ctrl-C, then killed: the overview shows neither the first
    session's stop nor its finish, and its elapsed time ends at the last result."""
    store, lock = fake_running_run(tmp_path)
    started = time.time() - 60
    store.set_meta(started=started, finished=started - 500,
                   summary={"stopped": "SIGINT", "tasks_per_second": 3.0})
    store.add_rows([(t, 0, t, "ok", None, t, None, 1, "n1", started + t, started + t + 1)
                    for t in range(5)])
    store.flush()
    (tmp_path / "live" / "run.lock").write_text(f"pid 999999999 on {os.uname().nodename}\n")
    try:
        with Served(tmp_path) as s:
            got = s.json("/api/runs/live")
            assert got["status"] == "crashed" and got["stopped"] is None
            assert got["elapsed"] == pytest.approx(5.0)
            assert s.json("/api/runs")["runs"][0]["duration"] == pytest.approx(5.0)
    finally:
        store.close()
        lock.close()


def test_a_folder_with_no_runs_and_a_damaged_store(runs, tmp_path):
    with Served(tmp_path) as empty:
        assert empty.json("/api/runs")["runs"] == []
        assert empty.get("/")[0] == 200
    shutil.copytree(runs / "sweep", tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.sqlite").write_bytes(b"this is not a database" * 100)
    with Served(tmp_path) as s:
        listing = {r["id"]: r for r in s.json("/api/runs")["runs"]}
        assert listing["bad"]["status"] == "unreadable"
        assert "bad" in listing["bad"]["error"] and "\n" not in listing["bad"]["error"]
        for what in ("", "/nodes", "/table", "/failures"):
            code, body, _h = s.get(f"/api/runs/bad{what}")
            assert code == 503, (what, code)
            assert "run.sqlite" in json.loads(body)["error"]
        assert s.json("/api/runs/good")["done"] == 40  # the server is still up


def test_the_serve_command_refuses_a_missing_folder_and_a_busy_port(tmp_path):
    done = run_cmd(python_cmd("-m", "parc_mpi.serve", tmp_path / "nope"))
    assert done.returncode == 2 and "nope: no such folder" in done.stderr, done
    with Served(tmp_path) as s:
        port = s.server.server_address[1]
        done = run_cmd(python_cmd("-m", "parc_mpi.serve", tmp_path, "--host", "127.0.0.1",
                                  "--port", port))
        assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr, done
        assert len(done.stderr.strip().splitlines()) == 1


def test_api_functions_turn_nan_and_objects_into_json(tmp_path):
    assert api.cell(float("nan")) == "nan" and api.cell(float("inf")) == "inf"
    assert api.cell("x" * 1000).endswith("…") and len(api.cell("x" * 1000)) == api.MAX_CELL
    from parc_mpi.serve.server import _dumps
    assert json.loads(_dumps({"a": [float("nan"), 1.5], "b": float("-inf")})) == \
        {"a": [None, 1.5], "b": None}


def start_served_run(tmp_path):
    """The SLOW job started with ``--serve 127.0.0.1:0``: (job, run_dir, process)."""
    job = tmp_path / "slow.py"
    job.write_text(SLOW)
    run_dir = tmp_path / "run"
    proc = start(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "--serve",
                            "127.0.0.1:0"))
    return job, run_dir, proc


@pytest.mark.e2e
def test_a_run_that_finishes_while_watched_and_run_serve(tmp_path):
    """``--serve`` prints the URL, serves the run while it goes (progress advances),
    shows the final state and stops with the run; a busy port is a one-line error."""
    job, run_dir, proc = start_served_run(tmp_path)
    try:
        line = proc.stdout.readline()
        assert "dashboard: http://127.0.0.1:" in line, line
        base = line.split()[2].rstrip("/")
        seen = []
        final = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/api/runs/run", timeout=10) as r:
                    s = json.loads(r.read())
            except OSError:
                break  # the server stopped with the run
            seen.append(s["done"])
            if s["status"] != "running":
                final = s
            time.sleep(0.3)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert final and final["status"] == "finished" and final["done"] == 60, final
    running = [d for d in seen if d < 60]
    assert len(set(running)) >= 2, seen  # progress advanced while watched
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/api/runs", timeout=5)
    # the same port taken: one line, exit 2, no run directory left behind
    with Served(tmp_path) as s:
        port = s.server.server_address[1]
        done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "r2",
                                  "--serve", f"127.0.0.1:{port}"))
        assert done.returncode == 2 and f"--serve 127.0.0.1:{port}" in done.stderr, done
        assert not (tmp_path / "r2").exists()
    bad = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--serve", "host:port"))
    assert bad.returncode == 2 and "--serve" in bad.stderr


def _cmdline(process) -> list:
    """A child's command line; [] for one that has just ended (a zombie not yet
    reaped, or gone): the run starts short-lived helpers too."""
    import psutil
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.mark.e2e
def test_a_dashboard_that_dies_does_not_take_the_run_down(tmp_path):
    import psutil
    _job, run_dir, proc = start_served_run(tmp_path)
    try:
        line = proc.stdout.readline()
        if not line:   # the run ended before its first line: say why
            pytest.fail(f"the run printed nothing; exit {proc.wait()}: {proc.stderr.read()}")
        assert "dashboard: http://" in line, line
        server = [c for c in psutil.Process(proc.pid).children()
                  if "parc_mpi.serve" in " ".join(_cmdline(c))]
        assert len(server) == 1
        server[0].kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "finished: 60 ok, 0 failed of 60 tasks" in out
    with RunReader(str(run_dir)) as r:
        assert r.task_counts() == {"ok": 60}


@pytest.mark.e2e
@needs_chromium
def test_the_pages_in_a_real_browser_escape_what_tasks_return(served, tmp_path):
    """Headless Chromium: the runs list, a run's tabs, the failure whose message is
    <script> shown as text (no dialog), the chart drawn; screenshots kept."""
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with Browser() as b:
        b.open(served.base + "/")
        assert b.wait("document.querySelectorAll('main table tr').length === 3")
        b.open(served.base + "/#/run/sweep/failures")
        text = b.wait("document.querySelector('main pre') && document.querySelector('main').innerText")
        assert "<script>alert(1)</script> & <b>bold</b>" in text
        assert b.eval("document.querySelectorAll('main script').length") == 0
        assert not b.eval("[...document.querySelectorAll('main b')].some("
                          "e => e.textContent === 'bold')")
        assert b.dialogs == []
        b.shot(str(shots / "dashboard-failures.png"))
        b.open(served.base + "/#/run/sweep/results")
        b.wait("document.querySelectorAll('main table tr').length === 41")
        assert "/ sweep <i> finished" in b.eval("document.getElementById('crumb').innerText")
        b.open(served.base + "/#/run/opt/optimization")
        assert b.wait("document.querySelector('.uplot canvas') !== null")
        b.shot(str(shots / "dashboard-optimization.png"))
        b.open(served.base + "/#/run/sweep/nodes")
        assert b.wait("document.querySelectorAll('main table.nodes tr').length") == 2
        b.size(800, 480)
        b.open(served.base + "/?view=kiosk&run=opt")
        assert b.wait("document.querySelectorAll('.tile').length") == 1
        assert b.eval("document.documentElement.scrollHeight") <= 480
        b.shot(str(shots / "dashboard-kiosk.png"))


def test_the_tracker_folds_new_rows_into_the_same_counts_the_reader_makes(tmp_path):
    """Incremental counts (retries included) equal a full read, after every batch."""
    import random
    rng = random.Random(5)
    (tmp_path / "run").mkdir()
    store = Store(str(tmp_path / "run"))
    store.set_meta(status="running", started=time.time(), job={"kind": "optimize",
                                                               "goal": "max"})
    tracker = api.Tracker(str(tmp_path / "run"))
    attempt = {}
    now = time.time()
    try:
        for batch in range(6):
            rows = []
            for _ in range(50):
                task = rng.randrange(120)
                if attempt.get(task, (0, "failed"))[1] == "ok":
                    continue  # a task that succeeded is never tried again
                a = attempt[task][0] + 1 if task in attempt else 0
                status = rng.choice(["ok", "ok", "failed", "timeout"])
                attempt[task] = (a, status)
                value = rng.uniform(-5, 5) if status == "ok" else None
                rows.append((task, a, None, status, value, None, None, 1,
                             f"n{task % 3}", now, now + 0.01 * batch))
            store.add_rows(rows)
            store.flush()
            with RunReader(str(tmp_path / "run")) as r:
                tracker.update(r, r.meta())
                assert dict(+tracker.final) == r.task_counts()
                assert tracker.attempts == r.attempts()
                assert dict(tracker.by_node) == r.attempts_by_node()
                assert tracker.best_result(r).seq == r.best(1, "max")[0].seq
                spent = {}
                for x in r.results():
                    spent[x.node] = spent.get(x.node, 0.0) + x.seconds
                assert tracker.busy == pytest.approx(spent)
    finally:
        store.close()


MULTI = """
import parc_mpi

def beam(width, depth):
    return {"weight": width * depth, "deflection": 1.0 / (width * depth ** 3),
            "constraints": [6.0 / (width * depth ** 2) - 30.0]}

job = parc_mpi.optimize(beam, {"width": parc_mpi.Real(0.1, 1), "depth": parc_mpi.Real(0.1, 1)},
                        budget=40, goal={"weight": "min", "deflection": "min"}, seed=2)
"""

PRUNED = """
import parc_mpi

def train(lr):
    loss = None
    for epoch in range(1, 16):
        loss = (lr - 0.3) ** 2 + 1.0 / epoch
        if parc_mpi.report(epoch, loss):
            break
    return loss

job = parc_mpi.optimize(train, {"lr": parc_mpi.Real(0, 1)}, budget=25, goal="min",
                        pruner="median", seed=1)
"""


@pytest.mark.e2e
@needs_chromium
def test_a_front_and_progress_curves_in_the_api_and_the_browser(tmp_path):
    """Several objectives with a constraint, and a pruned run: the optimization API
    gives the front (feasible points only, parameters included), every evaluation
    flagged, hypervolume against evaluations and the curves; Chromium draws them."""
    for name, source in (("multi", MULTI), ("pruned", PRUNED)):
        job = tmp_path / f"{name}.py"
        job.write_text(source)
        done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "runs" / name,
                                  "-q", "--no-monitor"))
        assert done.returncode == 0, done
    o = api.optimization(str(tmp_path / "runs" / "multi"))
    assert o["objectives"] == ["weight", "deflection"] and o["constrained"]
    assert len(o["points"]["values"]) == 40 and o["front_size"] == len(o["front"]) >= 1
    assert sum(o["points"]["front"]) == o["front_size"]
    assert all(f for f, on in zip(o["points"]["feasible"], o["points"]["front"]) if on)
    for p in o["front"]:
        w, d = p["inputs"]["width"], p["inputs"]["depth"]
        assert 6.0 / (w * d ** 2) <= 30.0 and p["values"]["weight"] == pytest.approx(w * d)
    hist = o["hypervolume_history"]
    assert hist[-1] == [40, pytest.approx(o["hypervolume"])]
    assert all(a[1] <= b[1] for a, b in zip(hist, hist[1:]))   # it never shrinks
    p = api.optimization(str(tmp_path / "runs" / "pruned"))
    assert len(p["curves"]) == 25 and p["pruned"] == sum(c["pruned"] for c in p["curves"]) > 0
    assert all(len(c["step"]) < 15 for c in p["curves"] if c["pruned"])
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with Served(tmp_path / "runs") as s, Browser() as b:
        b.open(s.base + "/#/run/multi/optimization")
        n = b.wait("document.querySelectorAll('svg.plot circle.on-front').length")
        assert n == o["front_size"]
        # every feasible point is drawn (far infeasible ones may fall off the axes)
        assert b.eval("document.querySelectorAll('svg.plot circle').length") >= \
            sum(o["points"]["feasible"])
        text = b.eval("document.querySelector('main').innerText")
        assert "feasible; the first at evaluation" in text and "hypervolume" in text
        b.shot(str(shots / "dashboard-front.png"))
        b.open(s.base + "/#/run/pruned/optimization")
        assert b.wait("document.querySelector('main').innerText.includes('stopped early')")
        assert b.eval("document.querySelectorAll('svg.plot path').length") == 25
        b.shot(str(shots / "dashboard-curves.png"))
