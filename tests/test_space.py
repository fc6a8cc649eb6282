import math

import numpy as np
import pytest

from parc_mpi import Choice, Integer, Real, Space
from parc_mpi.optimizers import RandomSearch, make_optimizer


@pytest.mark.parametrize("params, message", [
    ({}, "space is empty"),
    ({"x": Real(1, 1)}, "space['x']: Real low=1 must be below high=1"),
    ({"x": Real(2, 1)}, "space['x']: Real low=2 must be below high=1"),
    ({"x": Real(0, math.inf)}, "space['x']: Real high must be a finite number"),
    ({"x": Real(math.nan, 1)}, "space['x']: Real low must be a finite number"),
    ({"x": Real(0, 1, log=True)}, "space['x']: Real with log=True needs low > 0"),
    ({"n": Integer(0, 5, log=True)}, "space['n']: Integer with log=True needs low > 0"),
    ({"n": Integer(1.5, 5)}, "space['n']: Integer low must be an integer"),
    ({"n": Integer(5, 5)}, "space['n']: Integer low=5 must be below high=5"),
    ({"c": Choice([])}, "space['c']: Choice needs at least one option"),
    ({"x": (0, 1)}, "space['x']: unknown parameter type tuple"),
    ([("x", Real(0, 1))], "space must be a dict"),
])
def test_bad_spaces_name_the_parameter(params, message):
    with pytest.raises(ValueError) as info:
        Space(params)
    assert str(info.value).startswith(message)


def test_unit_cube_round_trip():
    space = Space({"x": Real(-5, 5), "lr": Real(1e-4, 1, log=True), "n": Integer(1, 8),
                   "m": Integer(1, 1000, log=True), "c": Choice(["a", "b", "c"])})
    rng = np.random.default_rng(0)
    for u in rng.random((200, space.dim)):
        p = space.from_unit(u)
        assert -5 <= p["x"] <= 5 and 1e-4 <= p["lr"] <= 1
        assert 1 <= p["n"] <= 8 and isinstance(p["n"], int) and 1 <= p["m"] <= 1000
        assert p["c"] in ("a", "b", "c")
        assert space.from_unit(space.to_unit(p)) == pytest.approx(p)
    assert {space.from_unit([0, 0, u, 0, 0])["n"] for u in np.linspace(0, 1, 801)} == set(
        range(1, 9))


def test_random_search_is_seeded_and_keeps_best_by_goal():
    space = {"x": Real(0, 1)}
    a = [t.params for t in RandomSearch(space, seed=7).ask(5)]
    b = [t.params for t in RandomSearch(space, seed=7).ask(5)]
    assert a == b
    opt = RandomSearch(space, goal="max", seed=1)
    trials = opt.ask(4)
    for t, v in zip(reversed(trials), [3.0, float("nan"), 9.0, -1.0]):
        opt.tell(t, v)
    assert opt.best.value == 9.0
    with pytest.raises(ValueError, match="already told"):
        opt.tell(trials[0], 1.0)


def test_unknown_optimizer_and_goal_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'simplex'"):
        make_optimizer("simplex", {"x": Real(0, 1)})
    with pytest.raises(ValueError, match="goal must be 'min' or 'max'"):
        RandomSearch({"x": Real(0, 1)}, goal="up")
