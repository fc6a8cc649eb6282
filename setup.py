"""Install parc_mpi: ``pip install '.[mpich,test]'`` (see README.md)."""
from setuptools import find_packages, setup

setup(
    name="parc_mpi",
    version="0.1.0",
    description="Turn a few machines into one parallel computer for Python, over MPI",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["parc_mpi", "parc_mpi.*"]),
    # the dashboard's pages and the vendored uPlot (with its licence): the box is offline
    package_data={"parc_mpi.serve": ["static/*.*", "static/vendor/*"]},
    install_requires=[
        "mpi4py>=3.1",
        "numpy>=1.22",
        "scipy>=1.9",
        "matplotlib>=3.5",
        "psutil>=5.8",
        "threadpoolctl>=3",   # the optimizers' own BLAS work on one thread
    ],
    extras_require={
        # PyPI's MPICH wheel: a working mpiexec inside a virtual environment.
        # Leave it out on machines with a system MPI (Debian's mpich or openmpi-bin).
        "mpich": ["mpich"],
        # adapters: drive the cluster with a sampler you already use
        "optuna": ["optuna>=3", "cmaes"],
        "cma": ["cma>=3"],
        "nevergrad": ["nevergrad>=1"],
        # parc_mpi.load(run_dir).to_pandas()
        "pandas": ["pandas"],
        # benchmarks/optimizers.py: the peers, and COCO's BBOB functions (--suite bbob)
        "bench": ["optuna>=3", "cmaes", "cma>=3", "coco-experiment>=2.6"],
        # the test suite exercises the adapters too, so it installs their libraries
        "test": ["pytest>=7", "pytest-mpi>=0.6", "optuna>=3", "cmaes", "cma>=3",
                 "nevergrad>=1", "pandas"],
    },
    entry_points={
        "console_scripts": [
            "parc-hostfile=parc_mpi.hostfile:main",
            "parc-run=parc_mpi.run:main",
            "parc-serve=parc_mpi.serve.cli:main",
        ],
    },
)
