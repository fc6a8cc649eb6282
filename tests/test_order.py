"""map(..., cost=): the costliest items start first, task numbers stay the items'
positions, and a cost that cannot be had is a one-line error naming the item."""
import pytest

import parc_mpi
from parc_mpi import JobError
from parc_mpi.sources import MapSource


def test_the_costliest_items_are_handed_out_first_with_their_own_task_numbers():
    job = parc_mpi.map(abs, [3, -7, 1, 5, -7], cost=abs)
    src = MapSource(job)
    assert src.take(10) == [(1, -7), (4, -7), (3, 5), (0, 3), (2, 1)]
    assert src.exhausted and job.describe()["order"] == "cost"


@pytest.mark.parametrize("items, cost, words", [
    ([1, 2], "big", r"cost=\): give a function of an item returning its cost"),
    ((x for x in range(3)), abs, "the items must be a list, tuple or range"),
    ([0, 1], lambda x: 1 / x, r"cost\(items\[0\]\) raised ZeroDivisionError"),
    ([1, 2], lambda x: "big", r"cost\(items\[0\]\) must be a number"),
])
def test_a_bad_cost_is_a_one_line_error(items, cost, words):
    with pytest.raises(JobError, match=words) as info:
        parc_mpi.map(abs, items, cost=cost)
    assert "\n" not in str(info.value)


def test_a_cost_that_fails_on_a_later_item_is_named_when_the_run_starts():
    job = parc_mpi.map(abs, [1, 2, 0], cost=lambda x: 1 / x)
    with pytest.raises(JobError, match=r"cost\(items\[2\]\) raised ZeroDivisionError"):
        MapSource(job)


def test_order_learn_probes_the_range_then_hands_out_the_longest_first():
    """--order learn: a probe spread over the items, then (the probe's times told) the
    items predicted longest; every task once, with its own task number."""
    job = parc_mpi.map(abs, list(range(60)))
    job.order = "learn"
    src = MapSource(job, workers=4)
    probe = src.take(8)
    assert [t for t, _x in probe] == [0, 8, 17, 25, 34, 42, 51, 59]
    for t, x in probe:
        src.observe(t, 1e-4 + 1e-3 * x * x)   # the cost grows with the item
    nxt = src.take(6)
    assert all(t >= 43 for t, _x in nxt), nxt
    rest = src.take(100)
    got = [t for t, _x in probe + nxt + rest]
    assert sorted(got) == list(range(60)) and src.exhausted
    assert all(x == t for t, x in probe + nxt + rest)
    assert job.describe()["order"] == "learn"


def test_order_learn_orders_items_with_no_numeric_field_by_their_neighbours():
    job = parc_mpi.map(abs, [f"case-{i}" for i in range(30)])
    job.order = "learn"
    src = MapSource(job, workers=2)
    probe = src.take(8)
    for t, _x in probe:
        src.observe(t, 2.0 if t < 10 else 0.1)   # the first cases are the long ones
    nxt = src.take(5)
    assert all(t < 12 for t, _x in nxt), nxt


def test_order_learn_is_refused_where_it_cannot_apply(tmp_path):
    from conftest import python_cmd, run_cmd
    for source, words in (
            ("job = parc_mpi.map(abs, (x for x in range(3)))", "is not a map job over a list"),
            ("job = parc_mpi.map(abs, [1, 2], cost=abs)", "gives map(..., cost=)")):
        job = tmp_path / "job.py"
        job.write_text("import parc_mpi\n" + source + "\n")
        done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--order", "learn", "-q",
                                  "--run-dir", tmp_path / "run"))
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.e2e
def test_order_learn_in_a_real_run_starts_the_long_items_after_the_probe_first(tmp_path):
    """mpiexec with 2 workers: once the probe's 8 tasks are measured, the items
    predicted longest go first (the cost grows with the item); every task is done
    once."""
    from conftest import mpi_cmd, run_cmd
    job = tmp_path / "job.py"
    job.write_text("import time, parc_mpi\n"
                   "def f(n):\n    time.sleep(0.3 * (n / 40) ** 3)\n    return n\n"
                   "job = parc_mpi.map(f, list(range(1, 41)))\n")
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--order", "learn", "-q",
                           "--no-monitor", "--run-dir", tmp_path / "run"))
    assert done.returncode == 0, done
    run = parc_mpi.load(str(tmp_path / "run"))
    started = [t.params for t in sorted(run.tasks, key=lambda t: t.t_start)]
    assert sorted(started) == list(range(1, 41))
    # learned: after the probe and the tasks handed out while it ran, the longer an
    # item, the sooner it starts (a rank correlation near -1; the items' order is +1)
    import numpy as np
    later = np.array(started[12:], dtype=float)
    rho = np.corrcoef(np.argsort(np.argsort(later)), np.arange(len(later)))[0, 1]
    assert rho < -0.4, (rho, started)
    assert run.meta["job"]["order"] == "learn"
