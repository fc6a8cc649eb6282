"""Frames between a worker rank and its task process: a length, then a pickle.

The task process answers a batch with the pickled results message itself, so the
worker rank forwards those bytes to rank 0 without unpickling and pickling them again.
"""
from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_LEN = struct.Struct("<Q")
# the shared slot a task process writes before each task of a job with a timeout:
# (index in the batch or -1, CLOCK_MONOTONIC start)
SLOT = struct.Struct("<qd")


class ChannelClosed(Exception):
    """The other end of the pipe is gone (the process died or closed it)."""


def send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            raise ChannelClosed("the pipe is closed") from None
        view = view[n:]


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise ChannelClosed("the pipe closed mid-message")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> Any:
    (n,) = _LEN.unpack(_read_exactly(fd, _LEN.size))
    return pickle.loads(_read_exactly(fd, n))
