"""The code blocks of docs/*.md and how each is tested, from the marker before it.

    <!-- doc:run -->            run as written (sh: bash -e; python: python) in the
                                page's scratch folder, in page order
    <!-- doc:file PATH -->      the block is the content of PATH in the scratch folder
    <!-- doc:sim NODE_LIST -->  run on the main node of a simulated cluster built from
                                NODE_LIST (tests/test_simcluster.py runs these)
    <!-- doc:ssh NODE_LIST -->  the same, with OpenSSH on every node and nothing standing
                                in for it (simcluster --ssh): key set-up, ssh-copy-id and
                                mpirun's own ssh launcher run as written
    <!-- doc:slurm NODE_LIST --> run on the main node of a simulated cluster built from
                                NODE_LIST with Slurm on it (simcluster --slurm:
                                slurmctld, a slurmd per node, munge); sbatch, srun and
                                scancel as at a site (tests/test_slurm.py runs these)
    <!-- doc:check WHERE -->    needs a real Pi or Slurm: shell syntax is checked and
                                every ``python -m parc_mpi.X ...`` line is parsed by
                                that module's own argument parser
    <!-- doc:ci install|test --> the README's CI command, run by .ci/run itself

A sh, bash, console or python block with no marker is an error; text blocks (output,
CSV) need none.
"""
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CODE_LANGS = {"sh", "bash", "console", "python", "shell"}
BLOCK = re.compile(r"(?:<!--\s*doc:(\w+)\s*([^>]*?)\s*-->\s*\n)?```(\w*)\n(.*?)\n```", re.S)


@dataclass
class Block:
    page: str
    line: int
    kind: Optional[str]     # run, file, sim, ssh, slurm, check, ci, or None
    arg: str
    lang: str
    text: str

    def __str__(self):
        return f"{self.page}:{self.line}"


def blocks(page: Path) -> List[Block]:
    text = page.read_text()
    out = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start(3) if m.group(1) is None else m.start()) + 1
        out.append(Block(page.name, line, m.group(1), m.group(2) or "", m.group(3), m.group(4)))
    return out


def pages() -> List[Path]:
    return sorted(DOCS.glob("*.md"))


def scratch(tmp: Path) -> Path:
    """A folder that looks like a checkout to the docs' commands: jobs/ and the
    PaRC box's node list, and nothing the commands would write into the repository."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "jobs", tmp / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "node_list.csv", tmp / "node_list.csv")
    return tmp


def write_file(block: Block, where: Path) -> None:
    path = where / block.arg
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text + "\n")
