"""The report, from synthetic run stores and from real runs, and in a real browser."""
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from browser import chromium
from conftest import ROOT, mpi_cmd, needs_chromium, python_cmd, run_cmd
from parc_mpi.execute import Outcome
from parc_mpi.monitor import report as report_mod
from parc_mpi.monitor.report import build_report
from parc_mpi.store import HealthWriter, Store, rows_for

ARTIFACTS = ROOT / "test-artifacts"


def sample(t, temp=None, throttled=None, mem=40.0):
    return {"t": t, "cpu_temp_c": temp, "gpu_temp_c": None if temp is None else temp + 1,
            "arm_mhz": 1500.0, "clock_source": "firmware", "throttled": throttled,
            "cpu_percent": 50.0, "load1": 2.0, "load5": 1.0, "load15": 0.5, "cores": 4,
            "procs_running": 2, "procs_total": 100, "processes": 120, "mem_percent": mem,
            "mem_available_mb": 900.0, "swap_used_mb": 0.0, "net": {}}


def make_run(tmp_path, results=(), nodes=None, kind="map", status="finished"):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store = Store(str(run_dir))
    t0 = time.time() - 60
    store.set_meta(job={"kind": kind, "goal": "min"}, name="synthetic", status=status,
                   started=t0, finished=t0 + 60, ranks=4, mpi="MPICH test", nodes=["pi0"],
                   summary={"workers": {}})
    if results:
        tasks = [(i, 0, arg) for i, (arg, _ok, _r) in enumerate(results)]
        outcomes = [Outcome(i, 0, "ok" if ok else "failed", r if ok else None,
                            None if ok else r, t0 + i, t0 + i + 0.5)
                    for i, (_a, ok, r) in enumerate(results)]
        store.add_rows(rows_for(tasks, outcomes, 2, "pi0"))
        store.flush()
    store.close()
    health = HealthWriter(str(run_dir / "run.sqlite"))
    for node, (baseline, samples) in (nodes or {}).items():
        health.node_hello(node, [0, 1], {"links": {"eth0": {"up": True, "speed_mbit": 1000}}},
                          samples[0])
        for s in samples[1:]:
            health.add_sample(node, s)
        health._nodes[node]["baseline"] = baseline
    health.close()
    return run_dir


def html_of(run_dir, **kw):
    return Path(build_report(str(run_dir), **kw)).read_text()


def test_empty_run_renders(tmp_path):
    page = html_of(make_run(tmp_path, status="running"))
    assert "synthetic" in page and "0 ok, 0 failed of 0" in page
    assert "Alerts" in page and "<img" not in page


def test_failures_are_listed_and_escaped(tmp_path):
    boom = 'Traceback...\nValueError: <script>alert(1)</script>'
    run = make_run(tmp_path, results=[(1, True, 1), ("<img src=x onerror=alert(2)>", False, boom)])
    page = html_of(run)
    assert "<script>alert(1)" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1 of 2 tasks failed" in page
    assert "Failures (1 attempts)" in page


def node_row(page, node):
    """A node's row of the nodes table (the main node's name carries "(main)")."""
    return re.search(rf"<tr><td>{node}( <span class='muted'>\(main\)</span>)?</td>.*?</tr>",
                     page).group(0)


def test_run_without_sensors_says_n_a_not_zero(tmp_path):
    now = time.time()
    run = make_run(tmp_path, results=[(1, True, 1)],
                   nodes={"vm": (None, [sample(now - 4), sample(now - 2)])})
    page = html_of(run)
    assert "No node reported a temperature sensor" in page
    row = node_row(page, "vm")
    assert "n/a / n/a" in row and "0.0 / " not in row


def test_under_voltage_is_called_a_power_problem_first(tmp_path):
    now = time.time()
    run = make_run(tmp_path, results=[(1, True, 1), (2, False, "Traceback\nKeyError: 2")],
                   nodes={"pi3": (0x0, [sample(now - 4, 55, 0x0), sample(now - 2, 82, 0x50005)]),
                          "pi4": (0x50000, [sample(now - 4, 50, 0x50000)])})
    page = html_of(run)
    alerts = re.search(r"<ul class='alerts'>(.*?)</ul>", page, re.S).group(1)
    items = re.findall(r"<li class='l(\d)'>(.*?)</li>", alerts)
    assert items[0][1].startswith("pi3: under-voltage during the run: check the power supply")
    assert any("82 °C" in text for _l, text in items)
    assert not any(text.startswith("pi4") for _l, text in items)  # sticky bits before the job
    row = node_row(page, "pi3")
    assert "power supply (under-voltage)" in row and 'class="red"' in row


def test_optimize_run_shows_convergence_and_top_ten(tmp_path):
    res = [({"x": i / 10}, True, (i - 7) ** 2) for i in range(15)]
    page = html_of(make_run(tmp_path, results=res, kind="optimize"))
    assert "Optimization" in page and "Top 10" in page
    assert (tmp_path / "run" / "plots" / "convergence.png").exists()
    top = re.search(r"<h3>Top 10</h3><table>(.*?)</table>", page, re.S).group(1)
    assert "<td>1</td><td>7</td>" in top  # trial 7 is best (value 0)


def test_self_contained_embeds_images(tmp_path):
    run = make_run(tmp_path, results=[(i, True, i) for i in range(20)])
    page = html_of(run, self_contained=True)
    assert "data:image/png;base64," in page and 'src="plots/' not in page


@pytest.mark.e2e
def test_cli_rebuilds_and_refuses_a_non_run(tmp_path):
    run = make_run(tmp_path, results=[(1, True, 1)])
    (run / "report.html").unlink(missing_ok=True)
    done = run_cmd(python_cmd("-m", "parc_mpi.report", run))
    assert done.returncode == 0 and (run / "report.html").exists(), done
    bad = run_cmd(python_cmd("-m", "parc_mpi.report", tmp_path))
    assert bad.returncode == 2 and "no run.sqlite here" in bad.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "run.sqlite").write_bytes(b"not a database" * 100)
    bad = run_cmd(python_cmd("-m", "parc_mpi.report", damaged))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad
    assert "run.sqlite: cannot read the run store" in bad.stderr


@pytest.mark.e2e
def test_live_report_refreshes_and_final_does_not(tmp_path):
    job = tmp_path / "job.py"
    job.write_text("import time, parc_mpi\ndef f(x):\n    time.sleep(0.1)\n    return x\n"
                   "job = parc_mpi.map(f, range(60))\n")
    run_dir, live = tmp_path / "run", tmp_path / "live"
    proc = subprocess.Popen(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir,
                                    "--report-interval", "0.5", "--live-dir", live, "-q",
                                    "--netbench", "off"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_live = None
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if (live / "report.html").exists():
            seen_live = (live / "report.html").read_text()
            if "running" in seen_live:
                break
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert seen_live and "id='pause'" in seen_live and "location.reload" in seen_live
    final = (run_dir / "report.html").read_text()
    assert "location.reload" not in final and "finished" in final


@pytest.mark.e2e
@needs_chromium
def test_report_in_a_real_browser(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", "jobs/optimize_rastrigin.py", "--run-dir",
                           run_dir, "-q"), timeout=300)
    assert done.returncode == 0, done
    page = run_dir / "report.html"
    # a copy that reports, into the DOM, whether every image loaded
    probe = run_dir / "probe.html"
    probe.write_text(page.read_text().replace("</body>", """<script>
window.addEventListener('load', function(){var imgs=document.images, ok=0;
for (var i=0;i<imgs.length;i++){ if (imgs[i].complete && imgs[i].naturalWidth>0) ok++; }
document.body.setAttribute('data-images', ok + '/' + imgs.length);});</script></body>"""))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=5000"]
    dom = subprocess.run([chromium(), *flags, "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m, dom[:500]
    assert int(m.group(2)) >= 4 and m.group(1) == m.group(2), m.group(0)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([chromium(), *flags, "--window-size=1300,2400", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=120)
    from matplotlib.image import imread
    pixels = imread(shot)
    assert pixels.shape[0] > 1000 and pixels.std() > 0.05  # not a blank page


def add_result(run_dir, task):
    store = Store(str(run_dir))
    t = time.time()
    store.add_rows(rows_for([(task, 0, task)], [Outcome(task, 0, "ok", task, None, t, t + 0.1)],
                            2, "pi0"))
    store.flush()
    store.close()


def test_a_paced_reporter_keeps_a_young_figure_and_redraws_it_when_old(tmp_path, monkeypatch):
    """The live report (issue 20): numbers every rewrite, a figure with new data only
    once the reporter's last drawing of it is ``redraw_after`` seconds old."""
    run_dir = make_run(tmp_path, results=[(i, True, i * i) for i in range(5)])
    now = [1000.0]
    monkeypatch.setattr(report_mod.time, "monotonic", lambda: now[0])
    paced = report_mod.Reporter(str(run_dir), redraw_after=30.0)
    paced.render(live=True)
    assert "plot timeline" in paced.cpu and "plot throughput" in paced.cpu
    timeline = (run_dir / "plots" / "timeline.png").read_bytes()
    add_result(run_dir, 5)
    now[0] += 10
    page = Path(paced.render(live=True)).read_text()
    assert "6 ok, 0 failed of 6" in page                     # the numbers moved
    assert "plot timeline" not in paced.cpu                   # the figure waited
    assert (run_dir / "plots" / "timeline.png").read_bytes() == timeline
    now[0] += 25
    paced.render(live=True)
    assert "plot timeline" in paced.cpu                       # 35 s old: redrawn
    assert (run_dir / "plots" / "timeline.png").read_bytes() != timeline
    eager = report_mod.Reporter(str(run_dir))                 # the final report's
    add_result(run_dir, 6)
    eager.render()
    assert "plot timeline" in eager.cpu
