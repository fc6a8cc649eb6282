"""The end of a map run (issue 22): results.csv is written as the results arrive and
the report reads rank 0's digest instead of scanning the store; both must say exactly
what the store says, whatever the run went through."""
import csv

import numpy as np
import pytest

import parc_mpi
from conftest import mpi_cmd, python_cmd, run_cmd
from parc_mpi.monitor.report import RunData
from parc_mpi.store import RunReader
from parc_mpi.store import digest as digest_mod
from parc_mpi.store.export import CsvStream, sheet_text, write_csv

# failures that stay, failures that a retry mends, floats, big ints, a None item and
# one result the CSV must summarise: every path of the stream and the digest
MIXED = """
import os
import parc_mpi

MARKS = os.environ["MARKS"]


def f(x):
    if x is None:
        return -1
    if x % 97 == 5:
        raise ValueError(f"bad item {x}")
    if x % 89 == 3:
        mark = os.path.join(MARKS, str(x))
        if not os.path.exists(mark):   # fails on the first attempt only
            open(mark, "w").close()
            raise RuntimeError("flaky")
    if x == 2500:
        return [x, x]
    return x * 0.5 if x % 3 == 0 else x * x + 2 ** 62


# 50,000 tasks: from there (parc_mpi.job.STREAM_MIN) results.csv is written as they arrive
job = parc_mpi.map(f, [None] + list(range(1, 50_000)), retries=1)
"""


def rows_of(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def same_table(streamed, stored):
    """Equal cell for cell; seconds within a microsecond (SQLite and Python round
    the same difference to six places)."""
    assert len(streamed) == len(stored)
    assert streamed[0] == stored[0]
    sec = stored[0].index("seconds")
    for a, b in zip(streamed[1:], stored[1:]):
        assert a[:sec] + a[sec + 1:] == b[:sec] + b[sec + 1:], (a, b)
        assert abs(float(a[sec]) - float(b[sec])) <= 1.5e-6


@pytest.mark.e2e
@pytest.mark.parametrize("ranks", [None, 3])
def test_streamed_csv_and_digest_say_what_the_store_says(tmp_path, write_job, ranks,
                                                         monkeypatch):
    job = write_job(MIXED)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("MARKS", str(marks))
    run_dir = tmp_path / "run"
    args = ("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q", "--no-monitor",
            "--allow-failures")
    done = run_cmd(mpi_cmd(ranks, *args) if ranks else python_cmd(*args))
    assert done.returncode == 0, done
    meta = parc_mpi.load(str(run_dir)).meta
    assert meta["results_csv"] == "as results arrived"
    assert not (run_dir / "results.csv.part").exists()
    with RunReader(str(run_dir)) as reader:
        write_csv(str(tmp_path / "stored.csv"), reader)
    streamed, stored = rows_of(run_dir / "results.csv"), rows_of(tmp_path / "stored.csv")
    same_table(streamed, stored)
    assert len(streamed) == 50_001
    by_task = {int(r[0]): r for r in streamed[1:]}
    assert by_task[0][3] == "" and by_task[0][4] == "-1"          # a None item
    assert by_task[5][1] == "failed" and by_task[5][-1] == "ValueError: bad item 5"
    assert by_task[3][1] == "ok" and by_task[3][2] == "2"         # mended by its retry
    assert by_task[2500][4] == "[2500, 2500]"
    assert by_task[7][4] == str(7 * 7 + 2 ** 62)

    # the report from the digest and from SQL alone
    failed = sum(1 for x in range(1, 50_000) if x % 97 == 5)
    retried = failed + len(list(marks.iterdir()))   # the failures ran twice, the flaky too
    assert meta["digest"]["rows"] == meta["summary"]["tasks"] + retried == 50_000 + retried
    fast = RunData(str(run_dir))
    monkeypatch.setattr(RunReader, "digest", lambda self, meta=None: None)
    slow = RunData(str(run_dir))
    for name in ("n_attempts", "last_end", "t0", "task_status", "per_node_tasks",
                 "n_failed_attempts"):
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.task_status == {"ok": 50_000 - failed, "failed": failed}
    assert fast.lanes() == slow.lanes()
    assert [r.task for r in fast.first_rows] == [r.task for r in slow.first_rows]
    assert [r.seq for r in fast.failed] == [r.seq for r in slow.failed]
    tasks = [r.task for r in fast._sample]       # an even sample by task, final attempts
    step = tasks[1] - tasks[0]
    assert tasks == list(range(0, 50_000, step)) and len(tasks) >= 2500
    assert all(r.attempt == 1 for r in fast._sample if r.task % 89 == 3)
    bars = fast.task_rows()
    assert digest_mod.TIMELINE // 2 <= len(bars) <= digest_mod.TIMELINE
    assert set(bars[:, 0]) <= {w for w, _n in fast.lanes()}
    centres, rate = fast.throughput()
    width = centres[1] - centres[0]
    assert rate.sum() * width == pytest.approx(slow.throughput()[1].sum() * width, abs=0.5)
    assert rate.sum() * width == pytest.approx(fast.n_attempts, abs=0.5)


def test_a_table_that_is_not_one_item_and_one_result_is_written_from_the_store(
        tmp_path, write_job):
    job = write_job("""
import parc_mpi
job = parc_mpi.map(lambda x: {"sq": x * x, "x": x}, range(50_000))
""")
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"))
    assert done.returncode == 0, done
    meta = parc_mpi.load(str(run_dir)).meta
    assert meta["results_csv"] == ("from the store (the items or results are not plain "
                                   "numbers)")
    rows = rows_of(run_dir / "results.csv")
    assert rows[0][3:6] == ["item", "result.sq", "result.x"]
    assert rows[50][4] == "2401" and len(rows) == 50_001
    assert not (run_dir / "results.csv.part").exists()


def test_a_small_run_writes_results_csv_at_the_end_and_keeps_no_digest(tmp_path, write_job):
    job = write_job("import parc_mpi\njob = parc_mpi.map(abs, range(-5, 5))\n")
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"))
    assert done.returncode == 0, done
    meta = parc_mpi.load(str(run_dir)).meta
    assert meta["results_csv"] == "from the store" and "digest" not in meta
    assert [r[4] for r in rows_of(run_dir / "results.csv")[1:]] == [str(abs(x))
                                                                    for x in range(-5, 5)]


def row(task, result=None, status="ok", attempt=0, worker=1, node="n1", error=None):
    result = task * task if result is None and status == "ok" else result
    return (task, attempt, task, status, None, result, error, worker, node, 10.0 + task,
            10.5 + task)


def test_the_stream_puts_late_rows_in_task_order_and_gives_up_past_its_limit(tmp_path,
                                                                           monkeypatch):
    path = str(tmp_path / "results.csv")
    s = CsvStream(path)
    late = [row(t) for t in range(0, 5)]
    s.add([row(t) for t in range(10, 20)], sheet_text([row(t) for t in range(10, 20)]))
    s.add([row(t) for t in range(5, 10)])
    assert s.written == 0 and s.waiting == 15      # nothing before task 0 yet
    s.add(late, sheet_text(late))
    assert s.written == 20 and s.waiting == 0
    s.add([row(25), row(21, status="failed", error="Traceback\nKeyError: 21\n")])
    assert s.finish(expected=22) == path           # task 20 never ran: no row, no wait
    rows = rows_of(path)
    assert [r[0] for r in rows[1:]] == [str(t) for t in range(20)] + ["21", "25"]
    assert rows[21][1:5] == ["failed", "1", "21", ""] and rows[21][-1] == "KeyError: 21"
    assert rows[3] == ["2", "ok", "1", "2", "4", "1", "n1", "0.5", ""]

    monkeypatch.setattr(CsvStream, "HOLD", 100)
    s = CsvStream(path + "2")
    s.add([row(t) for t in range(1, 102)])
    assert not s.live and "more than 100 results waited" in s.reason
    assert s.finish() is None and not (tmp_path / "results.csv2.part").exists()

    s = CsvStream(path + "3")
    s.add([row(0), row(1)])
    assert s.finish(expected=3) is None and "2 rows written, 3 tasks stored" in s.reason


def test_sheet_text_is_what_csv_writes_and_only_for_the_common_case():
    rows = [row(t, result=t / 7) for t in range(3, 9)]
    import io
    buf = io.StringIO()
    csv.writer(buf).writerows([(t, "ok", 1, t, t / 7, 1, "n1", 0.5, "") for t in range(3, 9)])
    assert sheet_text(rows) == buf.getvalue()
    assert sheet_text(rows[:2] + rows[3:]) is None                 # a gap
    assert sheet_text([row(1, attempt=1)]) is None                 # a retry
    assert sheet_text([row(1, status="failed")]) is None
    assert sheet_text([row(1, result='{"a": 1}')]) is None         # JSON text
    assert sheet_text([row(1, node="lab,3")]) is None              # needs quoting


def test_the_digest_keeps_its_samples_even_as_it_thins_them(monkeypatch):
    monkeypatch.setattr(digest_mod, "TIMELINE", 50)
    monkeypatch.setattr(digest_mod, "SAMPLE", 40)
    d = digest_mod.Digest()
    t = 0
    for size in (1, 4, 16, 64, 64, 64, 64, 200, 200, 37):
        d.add([row(k) for k in range(t, t + size)], None, clean=True)
        t += size
    d.add([row(t, status="failed", error="x"), row(t + 1)], [1])   # t retried later
    d.add([row(t, attempt=1)], None, clean=True)
    st = d.state()
    assert st["attempts"] == t + 3 and st["rows"] == t + 3
    assert st["by_status"] == {"ok": t + 2, "failed": 1}
    assert st["final_by_status"] == {"ok": t + 2} and st["retried"]
    assert 25 <= len(st["bars"]) <= 50
    sample = st["sample"]                          # seqs of tasks 0, k, 2k, ...
    assert 20 <= len(sample) <= 40
    k = sample[1] - sample[0]
    assert sample == list(range(1, t + 1, k))[:len(sample)]
    assert st["first"] == list(range(1, 11))
    assert sum(st["bins"]) == pytest.approx(t + 3, abs=1)
    assert np.all(np.asarray(st["bins"]) >= 0)
