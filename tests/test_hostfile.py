import os

import pytest

from conftest import ROOT, python_cmd, run_cmd
from parc_mpi.hostfile import render_hostfile
from parc_mpi.mpienv import detect_flavour, mpiexec_command
from parc_mpi.nodes import parse_node_list

PARC = parse_node_list((ROOT / "node_list.csv").read_text())


def body(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_mpich_format_main_first_slots_equal_cores():
    assert body(render_hostfile(PARC, "mpich")) == [f"pi{i}.local:4" for i in range(6)]


def test_openmpi_format_and_main_slots():
    lines = body(render_hostfile(PARC, "openmpi", main_slots=2))
    assert lines[0] == "pi0.local slots=2"
    assert lines[1:] == [f"pi{i}.local slots=4" for i in range(1, 6)]


def test_shipped_hostfile_is_generated_from_shipped_node_list():
    shipped = (ROOT / "hostfile").read_text()
    assert shipped == render_hostfile(PARC, "mpich")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format must be one of"):
        render_hostfile(PARC, "slurm")


@pytest.mark.e2e
def test_cli_prints_both_formats():
    for fmt, first in (("mpich", "pi0.local:4"), ("openmpi", "pi0.local slots=4")):
        done = run_cmd(python_cmd("-m", "parc_mpi.hostfile", "node_list.csv", "--format", fmt))
        assert done.returncode == 0, done
        assert body(done.stdout)[0] == first


@pytest.mark.e2e
@pytest.mark.parametrize("content, message", [
    (None, "error: {path}: no such file"),
    ("name,address,role,cores\npi0,a,main,0\n",
     "error: nodes.csv:2: cores must be a positive integer, got '0'"),
    ("name,address,role,cores\npi0,a,worker,4\n", "error: nodes.csv: no node has role 'main' (exactly one is needed)"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "nodes.csv"
    if content is not None:
        path.write_text(content)
    done = run_cmd(python_cmd("-m", "parc_mpi.hostfile", path))
    assert done.returncode == 2, done
    assert done.stderr.strip() == message.format(path=path)
    assert "Traceback" not in done.stderr


@pytest.mark.e2e
def test_cli_usage_error_exit_2():
    done = run_cmd(python_cmd("-m", "parc_mpi.hostfile", "node_list.csv", "--main-slots", "0"))
    assert done.returncode == 2 and "--main-slots" in done.stderr


@pytest.mark.e2e
def test_mpiexec_accepts_generated_localhost_hostfile(tmp_path):
    nodes = tmp_path / "node_list.csv"
    nodes.write_text("name,address,role,cores\nlocal,localhost,main,3\n")
    hostfile = tmp_path / "hostfile"
    done = run_cmd(python_cmd("-m", "parc_mpi.hostfile", nodes, "-o", hostfile))
    assert done.returncode == 0, done
    launched = run_cmd(mpiexec_command(3, hostfile=str(hostfile)) + ["hostname"], timeout=60)
    assert launched.returncode == 0, launched
    assert len(launched.stdout.split()) == 3


def test_detects_the_installed_mpi():
    assert detect_flavour() in ("mpich", "openmpi")


def test_the_pre_flight_check_compares_each_node_with_the_main_one(tmp_path):
    """preflight.compare and probe without a cluster: the main node probes itself; a
    node with another Python, no parc_mpi, another MPI, a clock off and little memory
    gets each fault named with its fix (tests/test_simcluster.py provokes them on a
    simulated box over ssh)."""
    import sys
    from parc_mpi.nodes import Node
    from parc_mpi.preflight import Remote, compare, probe
    me = Node(name="pi0", address="localhost", role="main", cores=4)
    main = probe(Remote(me, sys.executable, local=True))
    assert main["python"] == "%d.%d.%d" % sys.version_info[:3] and "parc_mpi" in main
    assert abs(main["offset"]) < 0.5 and compare("pi0", main, main, "pi0") == ([], [])
    other = dict(main, python="3.9.2", mpi="Open MPI v4.1.4", offset=-42.0,
                 mem_available=50 << 20, parc_mpi_error="ModuleNotFoundError: No module "
                 "named 'parc_mpi'", prefix="/home/pi/other-venv")
    other.pop("parc_mpi")
    faults, notes = compare("pi3", other, main, "pi0")
    assert [f.split(":")[0] for f in faults] == [
        f"Python 3.9.2 against {main['python']} on pi0",
        f"parc_mpi is not importable by {main['exe']} (ModuleNotFoundError",
        "MPI library 'Open MPI v4.1.4' against '" + main["mpi"].split(":")[0],
        "its clock is 42 s behind pi0's", "only 50 MB of memory available"]
    assert notes == [f"its environment is /home/pi/other-venv, the main node's {main['prefix']}"]
    gone = probe(Remote(me, str(tmp_path / "no-venv" / "bin" / "python"), local=True))
    assert gone == {"error": f"{tmp_path / 'no-venv' / 'bin' / 'python'} is not there on pi0: "
                             "make the virtual environment at the same path on every node"}


def test_slurm_cpus_per_node_is_read_in_slurms_form():
    from parc_mpi.slurm import _cpus_per_node
    assert _cpus_per_node("4(x6)") == [4] * 6
    assert _cpus_per_node("4,2(x3),8") == [4, 2, 2, 2, 8]
    with pytest.raises(ValueError, match="not Slurm's form"):
        _cpus_per_node("4x6")


def test_from_slurm_refuses_to_overwrite_a_node_list(tmp_path, capsys):
    from parc_mpi.hostfile import main
    existing = tmp_path / "node_list.csv"
    existing.write_text("name,address,role,cores\na,a,main,2\n")
    assert main([str(existing), "--from-slurm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {existing} exists; --from-slurm writes a new node list")
    assert existing.read_text() == "name,address,role,cores\na,a,main,2\n"


@pytest.mark.parametrize("shown, down, restarts, said", [
    ("JobState=COMPLETING Reason=TimeLimit Restarts=0", "", "", "Slurm's time limit (SIGTERM)"),
    ("JobState=COMPLETING Reason=None Restarts=0", "", "", "scancel (SIGTERM)"),
    ("JobState=COMPLETING Reason=None Restarts=1", "pi5 down*", "",
     "a failed node of the job, pi5 (Slurm's SIGTERM)"),
    ("JobState=COMPLETING Reason=None Restarts=1", "", "", "scontrol requeue (SIGTERM)"),
    ("JobState=COMPLETING Reason=None Restarts=1", "", "1", "scancel (SIGTERM)"),
])
def test_slurms_sigterm_is_named_from_what_slurm_says(tmp_path, monkeypatch, shown, down,
                                                      restarts, said):
    """Slurm's own words for why it ends a job (as seen on the simulated Slurm box),
    read through stand-ins for scontrol and sinfo on the PATH."""
    from parc_mpi.slurm import end_reason
    for name, text in (("scontrol", f"JobId=7 JobName=sweep\n   {shown} BatchFlag=1"),
                       ("sinfo", "\n".join(["pi0 allocated", down or "pi5 allocated"]))):
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}\nEOF\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "pi[0,5]")
    monkeypatch.setenv("SLURM_RESTART_COUNT", restarts)
    assert end_reason() == said
    monkeypatch.delenv("SLURM_JOB_ID")
    assert end_reason() is None
