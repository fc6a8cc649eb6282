"""The task host: the process a rank runs its tasks in, and its limits (time,
memory). No MPI here: the worker rank moves messages, the task host runs tasks."""
from .host import InProcessHost, TaskHost, make_host, message
from .memory import parse_size

__all__ = ["InProcessHost", "TaskHost", "make_host", "message", "parse_size"]
