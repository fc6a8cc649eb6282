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
