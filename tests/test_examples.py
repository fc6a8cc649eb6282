"""Every example in jobs/ runs under mpiexec and gives the right answer; the README's
quick-start example command runs word for word."""
import json
import math
import re
import shlex
import sys

import pytest

from conftest import ROOT, mpi_cmd, run_cmd
from parc_mpi.store import RunReader

pytestmark = pytest.mark.e2e


def run_example(tmp_path, name, ranks=4):
    run_dir = tmp_path / name
    done = run_cmd(mpi_cmd(ranks, "-m", "parc_mpi.run", f"jobs/{name}.py", "--run-dir", run_dir),
                   timeout=300)
    assert done.returncode == 0, done
    return done, run_dir


def test_sweep_covers_the_grid_and_draws_the_heat_map(tmp_path):
    done, run_dir = run_example(tmp_path, "sweep_epidemic")
    assert "finished: 121 ok, 0 failed of 121 tasks" in done.stdout
    assert (run_dir / "plots" / "sweep.png").stat().st_size > 5000
    with RunReader(str(run_dir)) as reader:
        peaks = {tuple(r.params.values()): r.result["peak"] for r in reader.results()}
    assert peaks[(0.6, 0.05)] > 0.6        # R0 = 12: most are ill at once
    assert peaks[(0.1, 0.3)] < 0.002       # R0 < 1: the outbreak dies out


def test_optimization_example_spends_budget_and_beats_the_median(tmp_path):
    done, run_dir = run_example(tmp_path, "optimize_rastrigin")
    best = json.loads((run_dir / "best.json").read_text())
    with RunReader(str(run_dir)) as reader:
        values = sorted(reader.columns(["value"])["value"])
    assert len(values) == 300 and best["evaluations"] == 300
    assert best["value"] == values[0] < values[len(values) // 2]


def test_refine_grid_crowds_samples_at_the_step(tmp_path):
    done, run_dir = run_example(tmp_path, "refine_grid")
    m = re.search(r"(\d+) samples, (\d+) of them within 0.05 of the step", done.stdout)
    total, near = int(m.group(1)), int(m.group(2))
    assert total > 21 and near > total / 2  # 0.1 of the interval holds most samples


def readme_block(marker):
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- ci:{marker} -->\s*```[^\n]*\n(.*?)\n```", text, re.S)
    return m.group(1).strip()


def test_readme_example_command_runs_word_for_word_and_estimates_pi(tmp_path):
    cmd = shlex.split(readme_block("example"))
    assert cmd[0] == "mpiexec"
    from parc_mpi.mpienv import mpiexec_command
    n = int(cmd[cmd.index("-n") + 1])
    rest = cmd[cmd.index("-n") + 2:]
    assert rest[0] == "python"
    # the same words, with this environment's mpiexec and python (CI's venv)
    full = mpiexec_command(n) + [sys.executable] + rest[1:]
    done = run_cmd(full, timeout=300)
    assert done.returncode == 0, done
    assert "finished: 200 ok, 0 failed of 200 tasks" in done.stdout
    estimate = float(re.search(r"pi ~ ([0-9.]+) from 40,000,000 darts", done.stdout).group(1))
    assert abs(estimate - math.pi) < 0.002
    made = re.search(r"run directory: (runs/\S+)", done.stdout).group(1)
    assert (ROOT / made / "run.sqlite").exists() and (ROOT / made / "results.csv").exists()
    import shutil
    shutil.rmtree(ROOT / made)


def _awk_energy(tmp_path, n, steps, seed):
    """forces.c's numbers from forces.awk, run by hand, for comparison."""
    import subprocess
    work = tmp_path / f"awk-{n}-{seed}"
    work.mkdir()
    subprocess.run(["awk", "-v", f"n={n}", "-v", f"steps={steps}", "-v", f"seed={seed}", "-f",
                    str(ROOT / "jobs" / "forces.awk")], cwd=work, check=True,
                   capture_output=True)
    return float((work / "forces.stat").read_text().split()[-1])


def test_the_compiled_program_example_runs_a_folder_per_task(tmp_path):
    """jobs/forces_grid.py: forces.c built once per node, a task per grid point, each in
    its own folder; forces.stat back in the run folder, the energy as the result."""
    import shutil
    if not shutil.which("cc"):
        pytest.skip("no C compiler: the fallback test below covers awk")
    from conftest import cli_env
    env = cli_env(PARC_MPI_SCRATCH=str(tmp_path / "scratch"))
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", "jobs/forces_grid.py", "--run-dir", run_dir),
                   timeout=300, env=env)
    assert done.returncode == 0, done
    assert "finished: 9 ok, 0 failed of 9 tasks" in done.stdout
    with RunReader(str(run_dir)) as reader:
        got = {(r.params["n"], r.params["seed"]): r for r in reader.results()}
    assert len(got) == 9
    for (n, seed), r in got.items():
        stat = (run_dir / "outputs" / f"task-{r.task}" / "forces.stat").read_text().split()
        assert r.result == {"energy": float(stat[-1]), "steps": 5}
    assert got[(50, 1)].result["energy"] == pytest.approx(_awk_energy(tmp_path, 50, 5, 1),
                                                          rel=1e-9)
    builds = list((tmp_path / "scratch" / "run").glob("build-*/forces.x"))
    assert len(builds) == 1 and builds[0].read_bytes()[:4] == b"\x7fELF"   # compiled


def test_the_program_example_falls_back_to_awk_without_a_compiler(tmp_path):
    """On a node with no C compiler the example's build writes an awk stand-in; the same
    numbers come out."""
    import os
    import shutil
    from conftest import cli_env, python_cmd
    bin_dir = tmp_path / "bin"   # a PATH with a shell's tools and no cc
    bin_dir.mkdir()
    for tool in ("sh", "awk", "chmod", "printf", "cat"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)
    env = cli_env(PARC_MPI_SCRATCH=str(tmp_path / "scratch"), PATH=str(bin_dir))
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", "jobs/forces_grid.py", "--run-dir", run_dir,
                              "-q"), timeout=300, env=env)
    assert done.returncode == 0, done
    build = next((tmp_path / "scratch" / "run").glob("build-*"))
    assert (build / "forces.x").read_text().startswith("#!/bin/sh\nexec awk")
    with RunReader(str(run_dir)) as reader:
        got = {(r.params["n"], r.params["seed"]): r.result["energy"] for r in reader.results()}
    assert got[(100, 2)] == pytest.approx(_awk_energy(tmp_path, 100, 5, 2), rel=1e-9)
    assert len(got) == 9
