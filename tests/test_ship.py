import io
import os
import zipfile

import pytest

from parc_mpi.cluster.ship import Package, ShipError, pack, safe_extract, unpack


def zip_with(name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, "evil")
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../escape.py", "/etc/evil.py", "a/../../escape.py"])
def test_zip_slip_entries_are_refused(tmp_path, name):
    with pytest.raises(ShipError, match="points outside the folder"):
        safe_extract(zip_with(name), str(tmp_path / "dest"), "--ship project")
    assert not (tmp_path / "escape.py").exists()


def test_pack_and_unpack_round_trip(tmp_path):
    project = tmp_path / "proj"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("X = 1\n")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    job = tmp_path / "job.py"
    job.write_text("job = None\n")
    pkg = pack(str(job), str(project))
    folder = unpack(pkg, str(tmp_path / "cache"))
    assert (open(os.path.join(folder, "job.py")).read()) == "job = None\n"
    assert os.path.exists(os.path.join(folder, "project", "pkg", "mod.py"))
    assert not os.path.exists(os.path.join(folder, "project", "__pycache__"))
    assert unpack(pkg, str(tmp_path / "cache")) == folder  # reused, not rewritten


def test_digest_changes_with_content():
    a = Package("job.py", b"x = 1\n")
    b = Package("job.py", b"x = 2\n")
    assert a.digest != b.digest


def test_pack_names_missing_paths(tmp_path):
    with pytest.raises(ShipError, match="no such job file"):
        pack(str(tmp_path / "nope.py"))
    job = tmp_path / "job.py"
    job.write_text("")
    with pytest.raises(ShipError, match="not a directory"):
        pack(str(job), str(tmp_path / "nodir"))


def test_a_shipped_program_stays_executable(tmp_path):
    """zipfile's extractall drops mode bits: a shipped program must keep its x bit
    (and a data file must not gain one)."""
    project = tmp_path / "proj"
    project.mkdir()
    prog = project / "forces.sh"
    prog.write_text("#!/bin/sh\necho 42\n")
    prog.chmod(0o750)
    (project / "data.txt").write_text("1 2 3\n")
    (project / "data.txt").chmod(0o640)
    job = tmp_path / "job.py"
    job.write_text("job = None\n")
    folder = unpack(pack(str(job), str(project)), str(tmp_path / "cache"))
    shipped = os.path.join(folder, "project", "forces.sh")
    assert os.stat(shipped).st_mode & 0o777 == 0o750
    assert os.stat(os.path.join(folder, "project", "data.txt")).st_mode & 0o777 == 0o640
    import subprocess
    assert subprocess.run([shipped], capture_output=True, text=True).stdout == "42\n"
