"""What the dashboard costs, measured side by side in one run (issue 15):

1. the runner's throughput with ``--serve`` and 5 browsers' worth of polling (every
   second: one on the overview, one on the nodes tab with its throughput and task
   stream, one on the results table sorted and filtered, one on the results plots,
   one kiosk) against the same run with no server (target: loss <= 2%), and the server
   process's CPU meanwhile (target: <= 5% of one core);
2. on a store of 100,000 results, each view's call (status, the table sorted by the
   result and filtered, the sweep plots, the activity, the optimization views, a
   task): its first answer (the server reads the store into columns once), then time
   to first byte from the server's cache and computed afresh (p50, p99; target p99
   <= 200 ms), and its size (target <= 1 MB);
3. the page's total bytes, as sent and gzipped (target < 300 KB).

    python benchmarks/dashboard.py [--reps 3] [--tasks 8000]
"""
import argparse
import gzip
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import psutil  # noqa: E402

from parc_mpi.mpienv import mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402
from throughput import JOB, env  # noqa: E402

PATTERNS = [  # what each polling browser asks for every second
    ["", ],                                   # overview
    ["", "/nodes", "/activity"],              # nodes tab: throughput and task stream
    ["", "/table?page=0&size=50&sort=result&order=desc&status=all&filter=result%3E10"],
    #                                           results tab, sorted and filtered ...
    ["", "/views"],                           # ... and its plots
    ["/../../runs", "", "/nodes"],            # kiosk: the runs list, status, nodes
]


def poll(base, run_id, pattern, stop, counts):
    host, port = base.split("//")[1].rstrip("/").split(":")
    while not stop.is_set():
        t = time.monotonic()
        for what in pattern:
            path = "/api/runs" if what.startswith("/../..") else f"/api/runs/{run_id}{what}"
            try:
                c = http.client.HTTPConnection(host, int(port), timeout=10)
                c.request("GET", path)
                c.getresponse().read()
                c.close()
                counts.append(1)
            except OSError:
                return  # the server ended with the run
        stop.wait(max(0.0, 1.0 - (time.monotonic() - t)))


def one_run(serve: bool, tasks: int, clients: int):
    """A --no-monitor run of ``tasks`` 1 ms tasks on 2 workers; with ``serve``, the
    dashboard on and ``clients`` polling it. Returns (tasks/s, server CPU s, server
    wall s, requests)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        cmd = mpiexec_command(3) + [sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir",
                                    run_dir, "--no-monitor", "--progress", "1000"]
        if serve:
            cmd += ["--serve", "127.0.0.1:0"]
        proc = subprocess.Popen(cmd, env=env(BENCH_KIND="busy", BENCH_N=str(tasks),
                                             BENCH_SECONDS="0.001"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp)
        cpu = wall = 0.0
        counts = []
        if serve:
            line = proc.stdout.readline()
            m = re.search(r"(http://\S+)", line)
            if not m:
                raise SystemExit(f"no dashboard line: {line!r} {proc.stderr.read()}")
            server = next(p for p in psutil.process_iter(["cmdline"])
                          if "parc_mpi.serve" in " ".join(p.info["cmdline"] or [])
                          and run_dir in " ".join(p.info["cmdline"] or []))
            host, port = m.group(1).split("//")[1].rstrip("/").split(":")
            for _ in range(100):  # until it answers: its start-up (imports) is not counted
                try:
                    c = http.client.HTTPConnection(host, int(port), timeout=10)
                    c.request("GET", "/api/runs")
                    c.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.05)
            c = server.cpu_times()
            start_cpu = c.user + c.system
            stop = threading.Event()
            threads = [threading.Thread(target=poll, args=(m.group(1), "run",
                                                           PATTERNS[i % len(PATTERNS)],
                                                           stop, counts), daemon=True)
                       for i in range(clients)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            while proc.poll() is None:  # the last reading before the server ends
                try:
                    c = server.cpu_times()
                    cpu, wall = c.user + c.system - start_cpu, time.monotonic() - t0
                except psutil.Error:
                    break
                time.sleep(0.2)
            stop.set()
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"run failed:\n{out}\n{err}")
        with RunReader(run_dir) as r:
            tps = r.meta()["summary"]["tasks_per_second"]
    return tps, cpu, wall, len(counts)


def big_store(tmp: str, n: int) -> str:
    run_dir = os.path.join(tmp, "big")
    cmd = mpiexec_command(3) + [sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir",
                                run_dir, "-q", "--no-monitor"]
    done = subprocess.run(cmd, env=env(BENCH_N=str(n)), capture_output=True, text=True,
                          cwd=tmp)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return run_dir


VIEWS = ["", "/table?page=3&size=50&sort=result&order=desc&filter=item%3E5000",
         "/views", "/activity", "/explore", "/task?task=77777"]


def ttfb(run_dir: str, reps: int):
    """{view: (first answer s, (cached p50, p99) ms, (afresh p50, p99) ms, bytes)}."""
    proc = subprocess.Popen([sys.executable, "-m", "parc_mpi.serve", run_dir, "--host",
                             "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE, text=True,
                            env=env())
    out = {}
    try:
        port = None
        for line in proc.stdout:
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break

        def once(path):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            t = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            first = time.perf_counter() - t
            body = r.read()
            c.close()
            assert r.status == 200, (path, r.status, body[:200])
            return first, len(body)
        for view in VIEWS:
            path = "/api/runs/big" + view
            cold, size = once(path)
            cached = sorted(once(path)[0] for _ in range(reps))
            sep = "&" if "?" in path else "?"
            fresh = sorted(once(f"{path}{sep}fresh={k}")[0] for k in range(reps // 3))
            out[view or "/ (status)"] = (cold, pcts(cached), pcts(fresh), size)
    finally:
        proc.terminate()
        proc.wait()
    return out


def pcts(xs):
    def pct(q):
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3
    return pct(0.5), pct(0.99)


def page_bytes():
    static = os.path.join(ROOT, "parc_mpi", "serve", "static")
    files = ["index.html", "app.js", "app.css", "vendor/uPlot.iife.min.js",
             "vendor/uPlot.min.css"]
    raw = zipped = 0
    for f in files:
        with open(os.path.join(static, f), "rb") as fh:
            data = fh.read()
        raw += len(data)
        zipped += len(gzip.compress(data, 9))
    return raw, zipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=8000)
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--results", type=int, default=100_000)
    args = ap.parse_args()
    off, on, cpu, wall, reqs = [], [], [], [], []
    for _ in range(args.reps):  # alternate, so drift hits both alike
        off.append(one_run(False, args.tasks, 0)[0])
        tps, c, w, n = one_run(True, args.tasks, args.clients)
        on.append(tps)
        cpu.append(c)
        wall.append(w)
        reqs.append(n)
    a, b = statistics.median(off), statistics.median(on)
    print(f"# {args.tasks} x 1 ms tasks on 2 workers (3 ranks, --no-monitor), tasks/s, "
          f"median of {args.reps}")
    print(f"{'no server':>10} {'--serve + ' + str(args.clients) + ' clients':>20} "
          f"{'ratio':>7} {'loss':>7}")
    print(f"{a:>10,.1f} {b:>20,.1f} {b / a:>7.3f} {1 - b / a:>7.2%}  (target loss <= 2%)")
    share = sum(cpu) / sum(wall) if sum(wall) else 0.0
    print(f"# server process: {sum(cpu):.2f} CPU s over {sum(wall):.1f} s served, "
          f"{sum(reqs)} requests ({sum(reqs) / max(sum(wall), 1e-9):.1f}/s): "
          f"{share:.2%} of a core (target <= 5%)")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = big_store(tmp, args.results)
        views = ttfb(run_dir, 300)
    print(f"# each view's call on a store of {args.results:,} results: its first answer, "
          "then time to first byte (ms) from the server's cache and computed afresh, "
          "and its size (targets: p99 <= 200 ms, <= 1 MB)")
    print(f"{'call':<24} {'first s':>8} {'cache p50':>10} {'p99':>7} {'afresh p50':>11} "
          f"{'p99':>7} {'kB':>7}")
    for view, (cold, (c50, c99), (f50, f99), size) in views.items():
        print(f"{view.split('?')[0]:<24} {cold:>8.2f} {c50:>10.2f} {c99:>7.2f} {f50:>11.1f} "
              f"{f99:>7.1f} {size / 1000:>7.1f}")
    raw, zipped = page_bytes()
    print(f"# the page: {raw / 1024:.1f} KiB as files, {zipped / 1024:.1f} KiB gzipped "
          "(target < 300 KB)")


if __name__ == "__main__":
    main()
