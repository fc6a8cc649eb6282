"""The dashboard's result, optimization and activity views (issue 36): the columns
frame they read (sort and filter by any column, retries, arrays), what each API call
computes checked against the store, and what Chromium draws checked against the data."""
import csv
import io
import itertools
import json
import math
import time

import numpy as np
import pytest

from browser import Browser
from conftest import ROOT, needs_chromium, python_cmd, run_cmd
from parc_mpi.serve import api, views
from parc_mpi.store import RunReader, Store, encode
from parc_mpi.store.frame import FilterError, ResultFrame, frame_of

GRID = """
import itertools
import numpy as np
import parc_mpi

def simulate(p):
    alpha, n = p["alpha"], p["n"]
    x = np.linspace(0, 1, 30)
    field = np.outer(np.sin(np.pi * x * n), np.exp(-alpha * x)).astype(np.float32)
    return {"t_max": np.float64(alpha * n), "energy": float((field ** 2).sum()),
            "field": field, "profile": field[15]}

items = [{"alpha": a, "n": n} for a, n in itertools.product([0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
                                                             [1, 2, 3, 4])]
job = parc_mpi.map(simulate, items, name="grid")
"""

FIT = """
import parc_mpi

def loss(x, y, z):
    return 50 * (x - 1) ** 2 + 0.001 * y

job = parc_mpi.optimize(loss, {"x": parc_mpi.Real(-3, 3), "y": parc_mpi.Real(0, 1),
                               "z": parc_mpi.Real(0, 1)}, budget=60, goal="min",
                        optimizer="random", seed=4)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A grid sweep with array results and an optimization, made by the real command."""
    root = tmp_path_factory.mktemp("views")
    jobs = tmp_path_factory.mktemp("jobs")
    for name, source in (("grid", GRID), ("fit", FIT)):
        job = jobs / f"{name}.py"
        job.write_text(source)
        done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", root / name, "-q",
                                  "--no-monitor"))
        assert done.returncode == 0, done
    return root


# -- the frame -------------------------------------------------------------------
def _store(tmp_path, rows):
    run = tmp_path / "run"
    run.mkdir()
    s = Store(str(run))
    s.set_meta(status="finished", started=time.time(), job={"kind": "map"})
    s.add_rows(rows)
    s.flush()
    s.close()
    return str(run)


def _row(task, attempt, item, status, result, node="n1", t=0.0):
    return (task, attempt, encode(item), status, None, encode(result) if status == "ok" else None,
            None if status == "ok" else "Traceback\nValueError: no", 1, node, t, t + 0.5)


def test_the_frame_sorts_and_filters_by_any_column_as_python_would(tmp_path):
    rng = np.random.default_rng(3)
    rows, want = [], {}
    for t in range(300):
        item = {"a": float(rng.uniform()), "b": int(rng.integers(0, 5)), "node": "x"}
        result = {"r": float(rng.normal()), "s": np.float32(rng.uniform()), "w": str(t % 3)}
        status = "ok" if t % 7 else "failed"
        rows.append(_row(t, 0, item, status, result, f"n{t % 3}"))
        want[t] = (item, result if status == "ok" else None, status, f"n{t % 3}")
    f = frame_of(_store(tmp_path, rows))
    assert f.rows == 300 and f.inputs == ["a", "b", "item.node"]   # not the node column
    assert f.outputs == ["result.r", "result.s", "result.w"]
    order = [int(f.numbers("task")[i]) for i in f.order("result.r", descending=True)]
    ok = sorted((t for t in want if want[t][1]), key=lambda t: -want[t][1]["r"])
    assert order[:len(ok)] == ok                            # numbers, largest first
    assert all(want[t][1] is None for t in order[len(ok):])  # the failed ones last
    mask = f.mask(["a>0.5", "b<=2", "node=n1", "status=ok"])
    got = sorted(int(f.numbers("task")[i]) for i in np.flatnonzero(mask))
    assert got == sorted(t for t, (i, r, s, n) in want.items()
                         if i["a"] > 0.5 and i["b"] <= 2 and n == "n1" and s == "ok")
    by_text = [f._text_key("result.w")[i] for i in f.order("result.w", mask=f.ok_mask())]
    assert by_text == sorted(by_text)
    assert f.columns["result.s"].num[1] == pytest.approx(float(want[1][1]["s"]))
    for bad, words in (("a>>1", "not a number"), ("nosuch=1", "no column 'nosuch'"),
                       ("a>high", "not a number"), ("a", "COLUMN OP VALUE")):
        with pytest.raises(FilterError, match=words):
            f.mask([bad])
    with pytest.raises(FilterError, match="no column 'r' to sort by"):
        f.order("r")


def test_a_retry_replaces_its_task_s_row_and_arrays_are_marked(tmp_path):
    run = _store(tmp_path, [_row(0, 0, 1.5, "failed", None), _row(1, 0, 2.5, "ok",
                                                                  {"img": np.ones((8, 6))})])
    f = ResultFrame()
    with RunReader(run) as r:
        f.fold(r)
    assert f.rows == 2 and np.isnan(f.numbers("result.img")).all()
    assert f.columns["result.img"].array == ("float64", [8, 6])
    s = Store(run)
    s.add_rows([_row(0, 1, 1.5, "ok", {"img": np.zeros((8, 6)), "v": 3})])
    s.flush()
    s.close()
    with RunReader(run) as r:
        assert f.fold(r)
    assert f.rows == 2 and list(f.numbers("attempts")) == [2, 1]
    assert f.statuses[int(f.numbers("status")[0])] == "ok"
    assert f.numbers("result.v")[0] == 3 and np.isnan(f.numbers("result.v")[1])
    pic = views.thumb(np.arange(100.0).reshape(10, 10), side=4)
    assert pic["shape"] == [10, 10] and len(pic["data"]) == 4 and len(pic["data"][0]) == 4
    assert pic["data"][0][0] == pytest.approx(np.arange(100.0).reshape(10, 10)[:3, :3].mean())
    assert views.thumb("text") is None and views.thumb(np.array(["a", "b"])) is None


# -- the API against the store -----------------------------------------------------
def test_the_table_sorts_by_a_parameter_and_a_result_filters_and_downloads(runs):
    run = str(runs / "grid")
    f = ResultFrame()
    page = api.table(run, 0, 50, "result.energy", True, None, ["alpha>=1.5"], f)
    with RunReader(run) as r:
        rows = [x for x in r.final_results() if x.params["alpha"] >= 1.5]
    assert page["total"] == len(rows) == 16
    energies = [x["outputs"]["result.energy"] for x in page["rows"]]
    assert energies == sorted((x.result["energy"] for x in rows), reverse=True)
    pic = page["rows"][0]["outputs"]["result.field"]
    assert pic["$array"] and pic["shape"] == [30, 30] and len(pic["data"]) <= views.THUMB
    by_n = api.table(run, 1, 5, "n", False, None, [], f)
    assert [x["inputs"]["n"] for x in by_n["rows"]] == [1, 2, 2, 2, 2]
    names = [c["name"] for c in page["columns"]]
    assert names[:5] == ["task", "status", "attempts", "alpha", "n"]
    assert "result.field" in names and page["columns"][names.index("result.field")]["array"]
    text = api_csv(run, "result.t_max", False, ["n=2"], f)
    got = list(csv.DictReader(io.StringIO(text)))
    assert [float(x["result.t_max"]) for x in got] == sorted(a * 2 for a in
                                                            [0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    assert {x["n"] for x in got} == {"2"}


def api_csv(run, sort, descending, clauses, frame):
    from parc_mpi.store.export import rows_csv
    return rows_csv(api.table_rows(run, sort, descending, clauses, frame)).decode()


def test_sweep_views_are_the_grid_s_means_counts_and_a_sample_of_the_rows(runs):
    f = frame_of(str(runs / "grid"))
    v = views.sweep(f)
    assert v["inputs"] == ["alpha", "n"] and v["outputs"] == ["result.t_max", "result.energy"]
    assert v["rows"] == v["sampled"] == 24
    heat = v["heat"]
    assert (heat["x"], heat["y"]) == ("alpha", "n") and heat["filled"] == 24
    for i, a in enumerate(heat["x_levels"]):
        for j, n in enumerate(heat["y_levels"]):
            assert heat["mean"]["result.t_max"][i][j] == pytest.approx(a * n, rel=1e-3)
    assert v["lines"]["n"]["mean"]["result.t_max"] == pytest.approx(
        [1.75 * n for n in (1, 2, 3, 4)], rel=1e-3)
    assert sum(v["histograms"]["result.energy"]["counts"]) == 24
    assert sorted(v["sample"]["alpha"]) == sorted([a for a in [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
                                                   for _ in range(4)])
    assert len(json.dumps(v)) < 1 << 20


def test_optimization_views_rank_the_parameter_that_matters_first(runs):
    run = str(runs / "fit")
    with RunReader(run) as r:
        space = r.meta()["job"]["space"]
        evs = r.final_results()
    x = views.optimization(frame_of(run), space)
    assert x["evaluated"] == x["sampled"] == 60
    assert [p["name"] for p in x["sample"]["params"]] == ["x", "y", "z"]
    told = sorted((e.params["x"], e.value) for e in evs)
    drawn = sorted(zip(x["sample"]["params"][0]["values"], x["sample"]["value"]))
    assert drawn == [pytest.approx(t, rel=1e-3, abs=1e-3) for t in told]
    ranked = [i["name"] for i in x["importance"]]
    assert ranked[0] == "x" and x["importance"][0]["importance"] > 0.6, x["importance"]
    c = x["contour"]
    assert c["x"] == "x" and len(c["z"]) == len(c["y_grid"]) == views.CONTOUR
    a = views.activity(run)
    assert len(a["stream"]["bars"]) == 60 == a["attempts"]
    assert sum(a["throughput"]["per_second"]) * a["throughput"]["width"] == pytest.approx(60)


def test_a_100000_task_store_s_views_are_binned_and_sampled_not_row_by_row(tmp_path):
    """Each view's answer on 100,000 results stays under 1 MB (sampled or binned);
    how fast they answer is measured by benchmarks/dashboard.py, not here."""
    run = tmp_path / "big"
    run.mkdir()
    s = Store(str(run))
    s.set_meta(status="finished", started=time.time(), job={"kind": "map"})
    rng = np.random.default_rng(0)
    now = time.time()
    for chunk in range(10):
        s.add_rows([(t, 0, encode({"a": t % 100 / 100, "b": t // 100 % 50}), "ok", None,
                     encode({"y": float(rng.normal()), "z": t * 0.5}), None, 1 + t % 4,
                     f"n{t % 4}", now + t * 1e-3, now + t * 1e-3 + 3e-3)
                    for t in range(chunk * 10_000, (chunk + 1) * 10_000)])
        s.flush()
    s.close()
    f = frame_of(str(run))
    page = api.table(str(run), 7, 50, "result.y", True, None, ["a>0.5"], f)
    assert page["total"] == 49_000 and len(page["rows"]) == 50
    ys = [r["outputs"]["result.y"] for r in page["rows"]]
    assert ys == sorted(ys, reverse=True)
    v = views.sweep(f)
    assert v["sampled"] == views.SAMPLE and v["heat"]["filled"] == 5000
    a = views.activity(str(run))
    assert "density" in a["stream"] and len(a["stream"]["density"]["busy"]) == 4
    busy = [np.mean(b[1:-1]) for b in a["stream"]["density"]["busy"]]
    assert busy == [pytest.approx(0.75, abs=0.02)] * 4   # 3 ms of every 4 ms per worker
    for out in (page, v, a):
        assert len(json.dumps(out)) < 1 << 20


# -- the pages in a real browser ---------------------------------------------------
@pytest.mark.e2e
@needs_chromium
def test_the_views_draw_what_the_store_holds(runs):
    """Chromium on the grid sweep and the optimization: the sorted table's order is the
    values', the URL keeps the view, the heat map has the grid's cells, the
    histograms count every task, the array result is a picture of its shape, the
    slice plots have a point per evaluation, importance puts x first, the task stream
    a bar per evaluation; screenshots in test-artifacts."""
    from test_serve import Served
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with RunReader(str(runs / "grid")) as r:
        energies = sorted((x.result["energy"] for x in r.final_results()), reverse=True)
    with Served(runs) as s, Browser() as b:
        b.size(1280, 900)
        b.open(s.base + "/")
        assert b.wait("document.querySelectorAll('main table tr').length === 3")
        assert sorted(b.eval("[...document.querySelectorAll('main table tr td:first-child a')]"
                             ".map(a => a.textContent)")) == ["fit", "grid"]
        b.open(s.base + "/#/run/grid/results?sort=result.energy&order=desc")
        b.wait("document.querySelectorAll('main table tr').length === 25")
        col = b.eval("[...document.querySelectorAll('main table th')].findIndex("
                     "h => h.dataset.col === 'result.energy')")
        shown = b.eval(f"[...document.querySelectorAll('main table tr')].slice(1).map("
                       f"tr => +tr.children[{col}].title || +tr.children[{col}].textContent)")
        assert shown == [pytest.approx(e, rel=1e-3) for e in energies]
        assert b.eval("document.querySelectorAll('td.pic canvas[data-shape=\"30x30\"]').length") \
            == 24
        b.eval("document.querySelector('th[data-col=\"n\"]').click(); true")
        assert b.wait("location.hash.includes('sort=n') && location.hash.includes('order=asc')")
        b.eval("const f = document.getElementById('filter'); f.value = 'alpha>2'; "
               "f.dispatchEvent(new Event('change')); true")
        assert b.wait("document.querySelectorAll('main table tr').length === 9")
        href = b.eval("document.getElementById('table-csv').href")
        assert "filter=alpha%3E2" in href and "sort=n" in href
        b.shot(str(shots / "views-table.png"))
        b.open(s.base + "/#/run/grid/results?view=plots&x=alpha&y=result.t_max&color=n")
        assert b.wait("document.querySelectorAll('#scatter circle').length") == 24
        assert b.eval("[+document.getElementById('heatmap').dataset.rows, "
                      "+document.getElementById('heatmap').dataset.cols]") == [6, 4]
        counts = b.eval("[...document.querySelectorAll('svg.hist')].map(s => [...s.querySelectorAll("
                        "'rect[data-count]')].reduce((a, r) => a + +r.dataset.count, 0))")
        assert counts == [24, 24]
        b.shot(str(shots / "views-plots.png"))
        b.open(s.base + "/#/run/grid/task?task=5")
        assert b.wait("document.querySelectorAll('td.pic canvas').length") == 1
        assert "profile" in b.eval("document.querySelector('main').innerText")
        b.shot(str(shots / "views-task.png"))
        b.open(s.base + "/#/run/fit/optimization")
        b.wait("document.querySelectorAll('#slices svg').length === 3")
        assert b.eval("[...document.querySelectorAll('#slices svg')].map("
                      "s => s.querySelectorAll('circle').length)") == [60, 60, 60]
        assert b.eval("document.querySelector('#importance tr[data-name]').dataset.name") == "x"
        assert b.eval("+document.getElementById('stream').dataset.bars") == 60
        assert b.eval("document.getElementById('contour') !== null")
        assert b.eval("document.querySelector('.chart[data-log]').dataset.log") == "1"
        ticks = b.eval("[...document.querySelectorAll('svg.plot text.tick')].map(t => t.textContent)")
        assert ticks and all(len(t.lstrip("-").replace(".", "").lstrip("0")) <= 3
                             or "e" in t for t in ticks), ticks
        b.shot(str(shots / "views-optimization.png"))


def test_the_network_page_flags_a_node_measured_while_loaded(tmp_path):
    """A node whose load was above its cores between the run's start and its first
    task (the benchmark's window) is named with its load; one that was idle, or
    loaded only later while computing, is not."""
    from parc_mpi.store import HealthWriter
    run = tmp_path / "run"
    run.mkdir()
    s = Store(str(run))
    t0 = time.time() - 100
    s.set_meta(status="finished", started=t0, job={"kind": "map"},
               netbench={"source": "measured", "mode": "quick"})
    s.add_rows([(0, 0, 1, "ok", None, 1, None, 1, "n1", t0 + 30, t0 + 31)])
    s.flush()
    h = HealthWriter(str(run / "run.sqlite"))
    for node, busy, later in (("n1", 6.5, 0.5), ("n2", 0.4, 9.0)):
        h.node_hello(node, [1], {"cores": 4}, {"t": t0 + 1, "load1": 0.1, "cores": 4})
        h.add_sample(node, {"t": t0 + 10, "load1": busy, "cores": 4})
        h.add_sample(node, {"t": t0 + 40, "load1": later, "cores": 4})
    h.add_netbench([{"node": n, "kind": "latency", "size": 1, "p50": 12.0, "p99": 40.0}
                    for n in ("n1", "n2")])
    h.commit()
    s.close()
    got = api.network(str(run))
    assert got["loaded"] == {"n1": {"load1": 6.5, "cores": 4}}


@pytest.mark.e2e
@needs_chromium
def test_serving_one_run_opens_on_it(runs):
    from test_serve import Served
    with Served(runs / "fit") as s, Browser() as b:
        b.open(s.base + "/")
        assert b.wait("location.hash === '#/run/fit/overview' && "
                      "document.querySelector('main h2') && "
                      "document.querySelector('main h2').textContent")


def test_the_server_keeps_the_columns_of_the_four_runs_viewed_last(tmp_path):
    from parc_mpi.serve.server import MAX_FRAMES, make_server
    srv = make_server(str(tmp_path), "127.0.0.1", 0, "t")
    try:
        got = [srv.frame(str(tmp_path / f"run{i}")) for i in range(MAX_FRAMES + 1)]
        assert list(srv._frames) == [str(tmp_path / f"run{i}") for i in range(1, 5)]
        assert srv.frame(str(tmp_path / "run4")) is got[4]   # kept, and now the newest
        srv.frame(str(tmp_path / "run1"))
        assert list(srv._frames)[-1] == str(tmp_path / "run1")
    finally:
        srv.server_close()


def test_the_new_calls_over_http_say_what_is_wrong_in_one_line(runs):
    from test_serve import Served
    with Served(runs) as s:
        code, body, _h = s.get("/api/runs/grid/task?task=999")
        assert code == 404 and json.loads(body) == {"error": "no task 999 in this run"}
        code, body, _h = s.get("/api/runs/grid/table?filter=alpha%3E%3Ehigh")
        assert code == 400 and "filter 'alpha>>high'" in json.loads(body)["error"]
        code, body, _h = s.get("/api/runs/grid/table?sort=nosuch")
        assert code == 400 and "no column 'nosuch' to sort by" in json.loads(body)["error"]
        code, body, h = s.get("/api/runs/grid/table.csv?sort=n&order=desc&filter=alpha%3C%3D1")
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert code == 200 and "attachment" in h["Content-Disposition"]
        assert [int(r["n"]) for r in rows] == [4, 4, 3, 3, 2, 2, 1, 1]
        assert s.json("/api/runs/grid/task?task=5")["attempts"][0]["outputs"][
            "result.field"]["shape"] == [30, 30]
