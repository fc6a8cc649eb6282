"""Node health, network benchmarks and the report (only netbench.py and monitor.py
talk MPI)."""
