"""The node list: ``node_list.csv`` -> validated :class:`Node` records.

The file has a header line and one line per machine::

    name,address,role,cores,user
    pi0,pi0.local,main,4,pi
    pi1,pi1.local,worker,4,pi

``name``, ``address``, ``role`` and ``cores`` are required; ``user`` (the ssh
user) is optional. Blank lines and lines starting with ``#`` are ignored, and a
UTF-8 byte order mark and CRLF line ends are accepted. Every problem is reported
as one :class:`NodeListError` naming the file, the line and the field.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import List, Optional

REQUIRED_COLUMNS = ("name", "address", "role", "cores")
OPTIONAL_COLUMNS = ("user",)
ROLES = ("main", "worker")


class NodeListError(ValueError):
    """A node list that cannot be used; the message names file, line and field."""


@dataclass(frozen=True)
class Node:
    """One machine of the cluster."""

    name: str
    address: str
    role: str
    cores: int
    user: Optional[str] = None
    line: int = 0

    @property
    def is_main(self) -> bool:
        return self.role == "main"


def read_node_list(path: str) -> List[Node]:
    """Read and validate a node list file.

    Parameters
    ----------
    path : str
        Path of the CSV file.

    Returns
    -------
    list of Node
        The nodes, main node first, the workers in file order.

    Raises
    ------
    NodeListError
        If the file is missing, unreadable or invalid; the message names the
        file, the line number and the field.
    """
    label = os.path.basename(path) or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise NodeListError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NodeListError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise NodeListError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NodeListError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    return parse_node_list(text, label)


def _content_lines(text: str):
    """Yield (line number, line) for lines that are not blank or comments."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def parse_node_list(text: str, source: str = "node_list.csv") -> List[Node]:
    """Parse node list text; ``source`` is the file name used in messages."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = list(_content_lines(text))
    if not lines:
        raise NodeListError(
            f"{source}: empty file, expected a header line '{','.join(REQUIRED_COLUMNS)}'")
    header_line, header_text = lines[0]
    header = [h.strip().lower() for h in next(csv.reader(io.StringIO(header_text)))]
    for column in header:
        if column not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            raise NodeListError(
                f"{source}:{header_line}: unknown column '{column}' (columns are "
                f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise NodeListError(f"{source}:{header_line}: missing column '{column}'")
    if len(set(header)) != len(header):
        dup = next(c for c in header if header.count(c) > 1)
        raise NodeListError(f"{source}:{header_line}: column '{dup}' appears twice")

    nodes: List[Node] = []
    seen_names = {}
    seen_addresses = {}
    for number, line in lines[1:]:
        fields = [f.strip() for f in next(csv.reader(io.StringIO(line)))]
        if len(fields) != len(header):
            raise NodeListError(
                f"{source}:{number}: expected {len(header)} fields "
                f"({','.join(header)}), got {len(fields)}")
        row = dict(zip(header, fields))
        node = _make_node(row, source, number)
        for key, seen in (("name", seen_names), ("address", seen_addresses)):
            value = getattr(node, key)
            if value in seen:
                raise NodeListError(
                    f"{source}:{number}: {key} '{value}' duplicates line {seen[value]}")
            seen[value] = number
        nodes.append(node)

    if not nodes:
        raise NodeListError(f"{source}: no nodes listed under the header")
    mains = [n for n in nodes if n.is_main]
    if not mains:
        raise NodeListError(f"{source}: no node has role 'main' (exactly one is needed)")
    if len(mains) > 1:
        raise NodeListError(
            f"{source}:{mains[1].line}: role 'main' is given twice "
            f"(lines {mains[0].line} and {mains[1].line}); exactly one is allowed")
    return mains + [n for n in nodes if not n.is_main]


def _make_node(row: dict, source: str, number: int) -> Node:
    for key in ("name", "address"):
        value = row[key]
        if not value:
            raise NodeListError(f"{source}:{number}: {key} is empty")
        if any(ch.isspace() for ch in value):
            raise NodeListError(f"{source}:{number}: {key} must not contain spaces, got '{value}'")
    role = row["role"].lower()
    if role not in ROLES:
        raise NodeListError(
            f"{source}:{number}: role must be 'main' or 'worker', got '{row['role']}'")
    raw_cores = row["cores"]
    try:
        cores = int(raw_cores)
    except ValueError:
        cores = 0
    if cores <= 0 or str(cores) != raw_cores.lstrip("+"):
        raise NodeListError(
            f"{source}:{number}: cores must be a positive integer, got '{raw_cores}'")
    user = row.get("user") or None
    return Node(name=row["name"], address=row["address"], role=role, cores=cores,
                user=user, line=number)
