"""A compiled program over a parameter grid, a folder per task.

forces.c (N particles, softened 1/r forces, a few steps) is built once on each node
with the node's C compiler, so that a mixed box (an x86 laptop and ARM Pis) runs a
program built for each machine; where there is no compiler, forces.awk stands in.
Every task runs ./forces.x N STEPS SEED in a folder of its own; forces.stat comes back
to the run folder (outputs/task-N/) and final_energy reads it into the result.

    mpiexec -n 4 python -m parc_mpi.run forces_grid.py
"""
import parc_mpi

BUILD = ("cc -O2 -fopenmp -o forces.x forces.c -lm || "
         "{ printf '#!/bin/sh\\nexec awk -v n=\"$1\" -v steps=\"$2\" -v seed=\"$3\" "
         "-f forces.awk\\n' > forces.x && chmod +x forces.x; }")


def final_energy(folder):
    """The result of a task: the last step's energy, from the program's output file."""
    step, energy = (folder / "forces.stat").read_text().split("\n")[-2].split()
    return {"energy": float(energy), "steps": int(step) + 1}


forces = parc_mpi.program(["./forces.x", "{n}", "{steps}", "{seed}"],
                          inputs=["forces.c", "forces.awk"], build=BUILD,
                          outputs=["forces.stat"], read=final_energy)

grid = [{"n": n, "steps": 5, "seed": seed} for n in (50, 100, 200) for seed in (1, 2, 3)]
job = parc_mpi.map(forces, grid, timeout=120)
