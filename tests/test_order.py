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
