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
    send_raw(fd, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def send_raw(fd: int, data) -> None:
    """A frame of bytes that are a pickle already (a batch as rank 0 sent it)."""
    _write_all(fd, memoryview(_LEN.pack(len(data))))
    _write_all(fd, memoryview(data))


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            raise ChannelClosed("the pipe is closed") from None
        view = view[n:]


def _read_exactly(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            raise ChannelClosed("the pipe closed mid-message")
        got += k
    return buf


def recv(fd: int) -> Any:
    (n,) = _LEN.unpack(_read_exactly(fd, _LEN.size))
    return pickle.loads(_read_exactly(fd, n))
