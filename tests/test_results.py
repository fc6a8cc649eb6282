"""Results as data (issue 14): what a task returns comes back equal from
parc_mpi.load, the CSV has a column per field, and a value that cannot be stored
fails its task with one line."""
import csv
import math

import numpy as np
import pytest

import parc_mpi
from conftest import mpi_cmd, python_cmd, run_cmd
from parc_mpi.store.values import ValueNotStorable, decode, encode

KINDS = """
import math
import numpy as np
import parc_mpi


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def values():
    return [7, 2 ** 70, 1.5, math.nan, math.inf, -math.inf, True, "text", None, 1 + 2j,
            np.float32(1.25), np.int64(-3), np.arange(12, dtype=np.int16).reshape(3, 4),
            [1, [2.5, "x"], {"k": None}], (1, (2, 3)), {"energy": 1.5, "peak": (0.1, 2)},
            Point(1, 2), {1, 2, 3}]


def make(i):
    return values()[i]


job = parc_mpi.map(make, range(len(values())))
"""


def same(a, b):
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and (a == b).all())
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.e2e
@pytest.mark.parametrize("ranks", [None, 4])
def test_every_kind_of_value_comes_back_equal_from_load(tmp_path, write_job, ranks):
    job = write_job(KINDS, name="kinds.py")
    run_dir = tmp_path / "run"
    args = ("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q", "--no-monitor")
    done = run_cmd(mpi_cmd(ranks, *args) if ranks else python_cmd(*args))
    assert done.returncode == 0, done
    run = parc_mpi.load(str(run_dir))
    import importlib.util
    spec = importlib.util.spec_from_file_location("kinds_here", job)
    here = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(here)
    expected = here.values()
    assert [t.task for t in run.tasks] == list(range(len(expected)))
    for t, want in zip(run.tasks, expected):
        assert t.ok, t
        if type(want).__name__ == "Point":   # the job's own class, imported by load()
            assert type(t.result).__name__ == "Point" and (t.result.x, t.result.y) == (1, 2)
        else:
            assert same(want, t.result), (t.task, want, t.result)
    # nan and None stay distinct
    assert math.isnan(run.tasks[3].result) and run.tasks[8].result is None


def test_encode_refuses_what_cannot_be_stored_and_names_it():
    with pytest.raises(ValueNotStorable, match="of type function cannot be stored"):
        encode(lambda: 0)
    with pytest.raises(ValueNotStorable, match=r"1\.0 MiB.*over the 0 MiB"):
        encode(np.zeros(1 << 17), limit=1000)
    big = np.random.default_rng(0).random(10 * 2 ** 17)    # 10 MiB of float64
    blob = encode(big)
    assert isinstance(blob, bytes) and len(blob) < 10.1 * 2 ** 20   # no JSON detour
    assert (decode(blob) == big).all()


@pytest.mark.e2e
def test_an_unpicklable_result_fails_its_task_with_one_line(tmp_path, write_job):
    job = write_job("""
import threading, parc_mpi
def f(x):
    return threading.Lock() if x == 3 else x
job = parc_mpi.map(f, range(6))
""")
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                           "--no-monitor", "--allow-failures"))
    assert done.returncode == 0, done
    run = parc_mpi.load(str(run_dir))
    bad = [t for t in run.tasks if not t.ok]
    assert [t.task for t in bad] == [3]
    assert bad[0].error.startswith("task 3: result of type lock cannot be stored")
    assert [t.result for t in run.tasks if t.ok] == [0, 1, 2, 4, 5]


@pytest.mark.e2e
def test_csv_has_a_column_per_field(tmp_path, write_job):
    job = write_job("""
import numpy as np, parc_mpi
def f(item):
    return {"energy": item["a"] * 1.0000000001, "peak": item["b"], "curve": np.ones(3)}
job = parc_mpi.map(f, [{"a": a, "b": b} for a in (1, 2) for b in (0.5, 0.25)])
""")
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"))
    assert done.returncode == 0, done
    with open(run_dir / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:8] == ["task", "status", "attempts", "a", "b", "result.energy",
                                 "result.peak", "result.curve"]
    assert rows[0]["result.energy"] == repr(1.0000000001)      # full precision
    assert rows[0]["result.curve"] == "<ndarray float64 3>"
    df_like = parc_mpi.load(str(run_dir))
    assert isinstance(df_like.tasks[0].result["curve"], np.ndarray)


def test_load_names_a_folder_that_is_not_a_run(tmp_path):
    from parc_mpi.store import StoreError
    with pytest.raises(StoreError, match="no run.sqlite here"):
        parc_mpi.load(str(tmp_path))
    with pytest.raises(StoreError, match="no such run directory"):
        parc_mpi.load(str(tmp_path / "nope"))


@pytest.mark.e2e
def test_a_job_importing_a_sibling_module_runs_under_mpiexec_from_elsewhere(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    (proj / "job.py").write_text("import parc_mpi\nfrom helper import twice\n\n"
                                 "def f(x):\n    return twice(x)\n\n"
                                 "job = parc_mpi.map(f, range(8))\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", proj / "job.py", "--run-dir",
                           tmp_path / "run", "-q"), cwd=elsewhere)
    assert done.returncode == 0, done
    assert parc_mpi.load(str(tmp_path / "run")).results == [2 * x for x in range(8)]


@pytest.mark.e2e
def test_a_failed_task_traceback_names_the_users_file_and_no_parc_frames(tmp_path, write_job):
    job = write_job("import parc_mpi\n\ndef f(x):\n    if x == 2:\n"
                    "        raise ValueError(f'bad {x}')\n    return x\n\n"
                    "job = parc_mpi.map(f, range(4))\n", name="myjob.py")
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                           "--no-monitor"))
    assert done.returncode == 1, done
    (bad,) = parc_mpi.load(str(run_dir)).failures
    assert f'File "{job}", line 5, in f' in bad.error, bad.error
    assert "parc_mpi" not in bad.error and ".cache" not in bad.error
    assert bad.error.strip().endswith("ValueError: bad 2")


OPT = """
import parc_mpi
from parc_mpi import Real
def f(x, y):
    return (x - 0.3) ** 2 + (y + 0.2) ** 2
job = parc_mpi.optimize(f, {"x": Real(-1, 1), "y": Real(-1, 1)}, budget=BUDGET, goal="min",
                        optimizer="cmaes", seed=4INITIAL)
"""


def opt_job(write_job, budget=20, initial="", name="opt.py"):
    return write_job(OPT.replace("BUDGET", str(budget)).replace("INITIAL", initial), name=name)


@pytest.mark.e2e
def test_extend_a_finished_optimization_to_a_larger_budget(tmp_path, write_job):
    job = opt_job(write_job)
    run_dir = tmp_path / "run"
    args = ("-m", "parc_mpi.run", job, "-q", "--no-monitor")
    done = run_cmd(mpi_cmd(3, *args, "--run-dir", run_dir))
    assert done.returncode == 0, done
    first = [(t.task, t.params) for t in parc_mpi.load(str(run_dir)).tasks]
    again = run_cmd(mpi_cmd(3, *args, "--resume", run_dir))
    assert again.returncode == 0 and "--budget N continues it" in again.stdout, again
    small = run_cmd(mpi_cmd(3, *args, "--resume", run_dir, "--budget", "10"))
    assert small.returncode == 2 and "--budget 10 is below the 20 evaluations" in small.stderr
    more = run_cmd(mpi_cmd(3, *args, "--resume", run_dir, "--budget", "35"))
    assert more.returncode == 0, more
    run = parc_mpi.load(str(run_dir))
    assert len(run.tasks) == 35 and run.status == "finished"
    assert [(t.task, t.params) for t in run.tasks[:20]] == first   # nothing re-run
    assert run.best["value"] <= min(t.result for t in run.tasks[:20])


@pytest.mark.e2e
def test_initial_points_are_evaluated_first_and_warm_start_tells_an_earlier_run(tmp_path,
                                                                               write_job):
    job = opt_job(write_job, budget=10, initial=', initial=[{"x": 0.3, "y": -0.2}]')
    run_dir = tmp_path / "first"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"))
    assert done.returncode == 0, done
    run = parc_mpi.load(str(run_dir))
    assert run.tasks[0].params == {"x": 0.3, "y": -0.2} and run.tasks[0].result == 0.0
    job2 = opt_job(write_job, budget=6, name="again.py")
    warm = tmp_path / "warm"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job2, "--run-dir", warm, "-q",
                              "--warm-start", run_dir))
    assert done.returncode == 0, done
    run2 = parc_mpi.load(str(warm))
    assert len(run2.tasks) == 6 and run2.tasks[0].task == 0    # warm points are not tasks
    other = write_job(OPT.replace("BUDGET", "5").replace("INITIAL", "").replace(
        '"y": Real(-1, 1)', '"y": Real(-2, 2)'), name="other.py")
    refused = run_cmd(python_cmd("-m", "parc_mpi.run", other, "--run-dir", tmp_path / "x",
                                 "--warm-start", run_dir))
    assert refused.returncode == 2, refused
    assert "warm_start:" in refused.stderr and "searched another space" in refused.stderr


def test_initial_points_outside_the_space_are_refused_by_name():
    from parc_mpi import JobError, Real
    with pytest.raises(JobError, match=r"initial\[1\]: x=5 must be a number in \[-1, 1\]"):
        parc_mpi.optimize(lambda x: x, {"x": Real(-1, 1)}, budget=5, goal="min",
                          initial=[{"x": 0.0}, {"x": 5}])
    with pytest.raises(JobError, match=r"initial\[0\]: no value for 'x'"):
        parc_mpi.optimize(lambda x: x, {"x": Real(-1, 1)}, budget=5, goal="min",
                          initial=[{}])


@pytest.mark.e2e
def test_load_reads_a_run_that_is_still_going_without_holding_it_up(tmp_path, write_job):
    import subprocess
    import time
    from conftest import ROOT, cli_env
    job = write_job("import time, parc_mpi\ndef f(x):\n    time.sleep(0.05)\n    return x\n"
                    "job = parc_mpi.map(f, range(60))\n")
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                                       "--no-monitor"), cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            run = parc_mpi.load(str(run_dir))
        except Exception:   # the store is not there yet
            time.sleep(0.05)
            continue
        if run.status == "running" and 0 < len(run.tasks) < 60:
            seen = len(run.tasks)
            break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert seen, "never saw the run while it was going"
    assert len(parc_mpi.load(str(run_dir)).tasks) == 60


SCALARS_JOB = """
import itertools
from decimal import Decimal
from fractions import Fraction
import numpy as np, parc_mpi
TYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int16, np.int32,
         np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
def f(item):
    a, b = item
    out = {t.__name__: t(b * 3 + (a * 0.5 if t(0.5) else 0)) for t in TYPES}
    out.update(bool_=np.bool_(a > 0.4), mean=np.linspace(a, b, 5).mean(), max=np.max([a, b]),
               decimal=Decimal("0.1") * int(b), fraction=Fraction(int(b), 3), plain=float(a))
    return out
job = parc_mpi.map(f, ITEMS)
"""


@pytest.mark.e2e
@pytest.mark.parametrize("items", [
    "list(itertools.product(np.linspace(0, 1, 3), [1, 2]))",          # numpy floats in tuples
    "[np.array([a, b]) for a in np.linspace(0, 1, 3) for b in (1.0, 2.0)]"])   # numpy arrays
def test_numpy_scalars_decimal_and_fraction_come_back_from_results_csv_as_numbers(
        tmp_path, write_job, items):
    """Issue 38: what a scientist returns (numpy's scalars of every kind, a mean, a max,
    Decimal, Fraction) and items made with numpy (linspace in a product, arrays) are
    numbers in results.csv: pandas.read_csv reads every column as numbers (bool as
    bool) equal to load().to_pandas()'s values."""
    import pandas as pd   # the test extra installs it
    job = write_job(SCALARS_JOB.replace("ITEMS", items))
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"))
    assert done.returncode == 0, done
    sheet = pd.read_csv(run_dir / "results.csv")
    table = parc_mpi.load(str(run_dir)).to_pandas()
    assert len(sheet) == len(table) == 6
    assert ["item_0", "item_1"] == [c for c in sheet.columns if c.startswith("item")]
    compared = 0
    for col in sheet.columns:
        if not col.startswith(("item_", "result.")):
            continue
        got, want = sheet[col], table[col]
        if col == "result.bool_":
            assert got.dtype == bool, (col, got.dtype, list(got))
            assert list(got) == [bool(v) for v in want]
        else:
            assert pd.api.types.is_numeric_dtype(got), (col, got.dtype, list(got))
            assert [float(v) for v in got] == [float(v) for v in want], col
        compared += 1
    assert compared == 2 + 18, list(sheet.columns)
