"""Getting the job's code to every node over MPI, with no shared filesystem.

Rank 0 packs the job file (and, with ``--ship DIR``, a project folder as a zip);
one rank per node unpacks the package into a private cache keyed by its digest,
and every rank imports the job from there.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Optional

MAX_SHIP_BYTES = 512 * 1024 * 1024


class ShipError(ValueError):
    """A job or folder that cannot be packed or unpacked; names the culprit."""


@dataclass(frozen=True)
class Package:
    job_name: str          # the user's file name, for messages and module naming
    job_bytes: bytes
    ship_name: Optional[str] = None
    ship_zip: Optional[bytes] = None
    origin_dir: Optional[str] = None  # the job file's folder on the main node: importable
                                      # wherever it exists (one machine, a shared FS)

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.job_name.encode() + b"\0" + self.job_bytes)
        if self.ship_zip is not None:
            h.update(b"\0" + (self.ship_name or "").encode() + b"\0" + self.ship_zip)
        return h.hexdigest()[:24]


def pack(job_path: str, ship_dir: Optional[str] = None) -> Package:
    """Read the job file and zip ``ship_dir``; raise ShipError naming the path."""
    try:
        with open(job_path, "rb") as fh:
            job_bytes = fh.read()
    except FileNotFoundError:
        raise ShipError(f"{job_path}: no such job file") from None
    except IsADirectoryError:
        raise ShipError(f"{job_path}: is a directory, expected a Python job file") from None
    except OSError as exc:
        raise ShipError(f"{job_path}: cannot read: {exc.strerror}") from None
    ship_zip = None
    ship_name = None
    if ship_dir:
        if not os.path.isdir(ship_dir):
            raise ShipError(f"--ship {ship_dir}: not a directory")
        ship_name = os.path.basename(os.path.abspath(ship_dir))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for root, dirs, files in os.walk(ship_dir):
                dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git", "runs"))
                for name in sorted(files):
                    full = os.path.join(root, name)
                    zf.write(full, os.path.relpath(full, ship_dir))
                    if buf.tell() > MAX_SHIP_BYTES:
                        raise ShipError(f"--ship {ship_dir}: larger than "
                                        f"{MAX_SHIP_BYTES // 2**20} MiB; ship code, not data")
        ship_zip = buf.getvalue()
    return Package(os.path.basename(job_path), job_bytes, ship_name, ship_zip,
                   os.path.dirname(os.path.abspath(job_path)))


def safe_extract(data: bytes, dest: str, label: str) -> None:
    """Extract a zip, refusing absolute paths and ``..`` entries (zip-slip), with each
    file's mode bits as packed (an executable stays one)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = os.path.realpath(dest)
        for info in zf.infolist():
            name = info.filename
            target = os.path.realpath(os.path.join(root, name))
            if (os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in
                    name.replace("\\", "/").split("/") or
                    not (target == root or target.startswith(root + os.sep))):
                raise ShipError(f"{label}: archive entry '{name}' points outside the folder; "
                                "refusing to unpack it")
        zf.extractall(root)
        for info in zf.infolist():   # zipfile drops the mode bits: a program stays executable
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(os.path.join(root, info.filename), mode)


def default_cache() -> str:
    return os.environ.get("PARC_MPI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "parc_mpi")


def unpack(pkg: Package, cache: Optional[str] = None) -> str:
    """Unpack into ``cache/<digest>/`` (once: a finished unpack is reused);
    return that folder. Atomic: a half-written folder is never used."""
    cache = cache or default_cache()
    final = os.path.join(cache, pkg.digest)
    if os.path.exists(os.path.join(final, ".complete")):
        return final
    try:
        os.makedirs(cache, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".unpack-", dir=cache)
    except OSError as exc:
        raise ShipError(f"{cache}: cannot create the job cache: {exc.strerror}") from None
    try:
        with open(os.path.join(tmp, pkg.job_name), "wb") as fh:
            fh.write(pkg.job_bytes)
        if pkg.ship_zip is not None:
            safe_extract(pkg.ship_zip, os.path.join(tmp, "project"), f"--ship {pkg.ship_name}")
        open(os.path.join(tmp, ".complete"), "w").close()
        try:
            os.rename(tmp, final)
        except OSError:  # another rank of this node got there first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def project_dir(folder: str) -> Optional[str]:
    path = os.path.join(folder, "project")
    return path if os.path.isdir(path) else None


def install_requirements(folder: str) -> Optional[str]:
    """``pip install -r requirements.txt`` from the shipped project, once per
    package and node. Returns an error line, or None."""
    project = project_dir(folder)
    req = os.path.join(project, "requirements.txt") if project else None
    if not req or not os.path.exists(req):
        return None
    marker = os.path.join(folder, ".deps-installed")
    if os.path.exists(marker):
        return None
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", req],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        return f"requirements.txt: pip install failed: {last}"
    open(marker, "w").close()
    return None
