"""The scheduler without any transport: batching, retries, commit before count."""
import itertools
import math


import parc_mpi
from parc_mpi.engine import Scheduler
from parc_mpi.execute import execute_batch
from parc_mpi.sources import make_source
from parc_mpi.store import Store, rows_for


def square(x):
    return x * x


def make(job, tmp_path, workers=2):
    store = Store(str(tmp_path))
    return Scheduler(job, make_source(job, workers), store, workers=workers), store


def run_batch(sched, batch, worker=1, compute=None):
    """What a worker does with a batch, handed straight back to the scheduler."""
    batch_id, tasks = batch
    outcomes, seconds = execute_batch(sched.job.fn, sched.job.call, tasks, sched.job.timeout)
    sched.receive(batch_id, worker, rows_for(tasks, outcomes, worker, "node"),
                  [o[3] for o in outcomes], seconds if compute is None else compute, "node")
    return tasks


def drain(sched, worker=1):
    while not sched.finished:
        batch = sched.next_batch()
        if batch:
            run_batch(sched, batch, worker)
        sched.flush()


def test_batches_grow_from_one_for_tiny_tasks_and_shrink_at_the_end(tmp_path):
    sched, _ = make(parc_mpi.map(square, range(20000)), tmp_path, workers=2)
    sizes = []
    while not sched.finished:
        batch = sched.next_batch()
        if not batch:
            sched.flush()
            continue
        sizes.append(len(batch[1]))
        run_batch(sched, batch, compute=1e-7 * len(batch[1]))  # 0.1 us per task
        sched.flush()
    assert sizes[0] == 1
    assert all(b <= 4 * a for a, b in zip(sizes, sizes[1:]) if b > a)  # growth capped
    assert max(sizes) >= 1000
    assert sizes[-1] <= math.ceil(20000 / 4)
    assert sum(sizes) == 20000


def test_slow_tasks_stay_single(tmp_path):
    sched, _ = make(parc_mpi.map(square, range(10)), tmp_path)
    for _ in range(5):
        batch = sched.next_batch()
        run_batch(sched, batch, compute=0.5 * len(batch[1]))  # half a second each
    assert sched.batch_size() == 1


def test_results_are_counted_only_after_commit(tmp_path):
    seen = []
    job = parc_mpi.generate(square, [2], lambda item, result: seen.append(result) or [])
    sched, store = make(job, tmp_path)
    run_batch(sched, sched.next_batch())
    # uncommitted: the take's journal entry (for --resume) and the result
    assert sched.done == 0 and seen == [] and store.pending_rows == 2
    sched.flush()
    assert sched.done == 1 and seen == [4]
    assert store.reader().counts() == {"ok": 1}


def test_map_source_pulls_lazily_from_an_endless_iterator(tmp_path):
    pulled = []
    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i
    sched, _ = make(parc_mpi.map(square, endless()), tmp_path)
    sched.next_batch()
    sched.next_batch()
    assert len(pulled) <= 3


def test_failed_attempts_are_retried_then_counted_once(tmp_path):
    calls = {}
    def flaky(x):
        calls[x] = calls.get(x, 0) + 1
        if calls[x] < 3:
            raise RuntimeError("not yet")
        return x
    job = parc_mpi.map(flaky, range(3), retries=2)
    sched, store = make(job, tmp_path)
    drain(sched)
    assert sched.done == 3 and sched.failed == 0 and sched.attempts_failed == 6
    assert store.reader().counts() == {"ok": 3, "failed": 6}


def test_optimize_non_numbers_are_failures_and_optimizer_survives(tmp_path):
    answers = iter(["text", float("nan"), None, 1e308] + [1.0] * 20)
    def objective(x):
        return next(answers)
    job = parc_mpi.optimize(objective, {"x": parc_mpi.Real(0, 1)}, budget=8, goal="min")
    sched, store = make(job, tmp_path)
    drain(sched)
    errors = [r.error for r in store.reader().results(status="failed")]
    assert errors == ["objective returned str, expected a number",
                      "objective returned nan, expected a finite number",
                      "objective returned NoneType, expected a number"]
    assert sched.done == 8 and sched.failed == 3
    assert sched.source.best()[1] == 1.0


def test_timeout_interrupts_a_task(tmp_path):
    import time
    def slow(x):
        if x == 1:
            time.sleep(5)
        return x
    job = parc_mpi.map(slow, range(3), timeout=0.2)
    sched, store = make(job, tmp_path)
    t0 = time.monotonic()
    drain(sched)
    assert time.monotonic() - t0 < 3
    assert [r.task for r in store.reader().results(status="timeout")] == [1]
    assert store.reader().counts() == {"ok": 2, "timeout": 1}


def test_a_worker_silent_after_the_last_result_is_lost_without_costing_a_task(tmp_path, capsys):
    """A node pulled once every result is in, before its ranks answered the stop: the
    heartbeat finds it in the message loop; the store and the user's line say it went
    after the last result (as the roll call after the report says), not that its tasks
    ran elsewhere. A worker lost while it holds a batch is the other case."""
    from parc_mpi.cluster.main import _declare_lost
    sched, _ = make(parc_mpi.map(square, range(6)), tmp_path, workers=2)
    held = sched.assign({2: 1})
    assert held and sched.holding(2) == 1
    _declare_lost(sched, 2, "pi3", 10)          # mid-run, holding a batch
    assert not sched.lost[2].get("after_last_result") and sched.lost[2]["tasks_requeued"] >= 1
    out = capsys.readouterr().out
    assert "worker rank 2 on pi3 lost (silent for over 10 s)" in out, out
    drain(sched, worker=1)
    assert sched.drained
    _declare_lost(sched, 3, "pi4", 10)          # after the last result
    assert sched.lost[3] == {"node": "pi4", "at": sched.lost[3]["at"], "tasks_requeued": 0,
                             "after_last_result": True}
    err = capsys.readouterr().err
    assert "rank 3 on pi4 stopped answering after the last result" in err, err
