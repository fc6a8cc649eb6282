"""scipy, imported on first use: ``import parc_mpi`` runs on every rank of every run,
and scipy.stats/optimize/linalg cost over a second there (several on a Pi) while only
rank 0 of an optimize job needs them."""
import importlib


class LazyModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


def lazy_function(module: str, name: str):
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__name__ = name
    return call
