"""One sample of a node's health: temperatures, throttling, clock, load, memory,
processes and network counters, honest about what the machine cannot tell.

A value the machine cannot give is None (the report shows "n/a"), never 0 and
never made up. On a Raspberry Pi, cheap sysfs/hwmon files are read every sample;
``vcgencmd`` is forked at most every ``VCGENCMD_EVERY`` seconds (a fork costs
~10 ms on a Pi). Every source is injectable so that tests can pose as a Pi with
under-voltage, an Intel desktop, or a VM with no sensors at all.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from typing import Any, Callable, Dict, Optional

import psutil

from .. import clock

VCGENCMD_EVERY = 10.0

# get_throttled bits (Raspberry Pi documentation, vcgencmd)
THROTTLE_BITS = {
    0: "under_voltage", 1: "freq_capped", 2: "throttled", 3: "soft_temp_limit",
    16: "under_voltage_occurred", 17: "freq_capped_occurred", 18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}
NOW_MASK = 0xF
OCCURRED_MASK = 0xF0000
UNDER_VOLTAGE = 0x10001   # under-voltage now or since boot: the power supply, not heat
TEMP_KEYS = ("cpu_thermal", "cpu-thermal", "coretemp", "k10temp", "zenpower", "acpitz")

# The keys of a health sample (Sensors.sample), defined once; None where the machine
# cannot tell (never 0). The store keeps a sample as it is (JSON), the report, the
# alerts and the loader read these names.
SAMPLE_KEYS = {
    "t": "epoch seconds on the node",
    "cpu_temp_c": "CPU temperature from the kernel's thermal zone or hwmon, °C",
    "gpu_temp_c": "firmware (SoC) temperature from vcgencmd, °C (Raspberry Pi)",
    "arm_mhz": "real ARM clock, MHz",
    "clock_source": "where arm_mhz came from: firmware or cpufreq",
    "throttled": "get_throttled bit mask (THROTTLE_BITS), Raspberry Pi",
    "cpu_percent": "CPU busy % over all cores since the last sample",
    "load1": "1-minute load average", "load5": "5-minute", "load15": "15-minute",
    "cores": "logical cores",
    "procs_running": "runnable processes", "procs_total": "all processes (loadavg)",
    "processes": "processes (psutil)",
    "mem_percent": "memory in use, %", "mem_available_mb": "memory available, MiB",
    "swap_used_mb": "swap in use, MiB",
    "net": "per NIC: [bytes sent, bytes received]",
}


def decode_throttled(mask: Optional[int]) -> Optional[Dict[str, bool]]:
    """The eight named flags of a get_throttled mask (None stays None)."""
    if mask is None:
        return None
    return {name: bool(mask >> bit & 1) for bit, name in THROTTLE_BITS.items()}


def throttle_cause(mask: int) -> Optional[str]:
    """Why a node is (or was) throttled: under-voltage is the power supply, not heat."""
    if mask & UNDER_VOLTAGE:
        return "power supply (under-voltage)"
    if mask & 0x8000A or mask & 0xA0000:
        return "temperature"
    if mask & 0x40004:
        return "throttled (cause not reported)"
    return None


def new_throttle_bits(baseline: Optional[int], mask: Optional[int]) -> int:
    """Bits set now that were not set when the job started (sticky bits predate it)."""
    if mask is None:
        return 0
    return mask & ~(baseline or 0)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _run_vcgencmd(exe: str, *args: str) -> Optional[str]:
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


class Sensors:
    """Reads samples of this node.

    Parameters
    ----------
    root : str
        Prefix of /sys and /proc paths ("/" on a real machine, a fake tree in tests).
    vcgencmd : callable or None
        ``vcgencmd(*args) -> str or None``; by default the real command when it is
        on PATH, else None (not a Pi).
    temperatures : callable
        psutil.sensors_temperatures or a stand-in.
    """

    def __init__(self, root: str = "/", vcgencmd: Optional[Callable[..., Optional[str]]] = None,
                 temperatures: Optional[Callable[[], Dict[str, list]]] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.root = root
        if vcgencmd is None and root == "/":
            exe = shutil.which("vcgencmd")
            vcgencmd = (lambda *a: _run_vcgencmd(exe, *a)) if exe else None
        self.vcgencmd = vcgencmd
        self.temperatures = temperatures if temperatures is not None else getattr(
            psutil, "sensors_temperatures", lambda: {})
        self.clock = clock
        self._vc_next = 0.0
        self._vc: Dict[str, Any] = {}
        self._hwmon = self._find_hwmon()
        self._throttled_sysfs = self._path(
            "sys/devices/platform/soc/soc:firmware/get_throttled")
        psutil.cpu_percent(None)  # prime the non-blocking counter

    def _path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def _find_hwmon(self) -> Dict[str, str]:
        """hwmon folders by their ``name`` (hwmonN numbers change between boots)."""
        out = {}
        for folder in glob.glob(self._path("sys/class/hwmon/hwmon*")):
            name = _read(os.path.join(folder, "name"))
            if name:
                out.setdefault(name, folder)
        return out

    # -- temperatures -----------------------------------------------------
    def cpu_temp(self) -> Optional[float]:
        """CPU temperature in °C from psutil, hwmon or thermal zones; None without a sensor."""
        try:
            temps = self.temperatures() or {}
        except Exception:  # psutil raises on odd platforms
            temps = {}
        for key in TEMP_KEYS:
            entries = temps.get(key)
            if entries:
                package = [e for e in entries if getattr(e, "label", "").startswith(
                    ("Package", "Tctl", "Tdie"))]
                return round(float((package or entries)[0].current), 1)
        for name in ("cpu_thermal", "cpu-thermal"):
            folder = self._hwmon.get(name)
            raw = _read(os.path.join(folder, "temp1_input")) if folder else None
            if raw and raw.lstrip("-").isdigit():
                return round(int(raw) / 1000.0, 1)
        for zone in sorted(glob.glob(self._path("sys/class/thermal/thermal_zone*"))):
            kind = (_read(os.path.join(zone, "type")) or "").lower()
            if kind.startswith("cpu") or kind in ("x86_pkg_temp", "soc_thermal"):
                raw = _read(os.path.join(zone, "temp"))
                if raw and raw.lstrip("-").isdigit():
                    return round(int(raw) / 1000.0, 1)
        return None

    # -- Raspberry Pi firmware ------------------------------------------------
    def _firmware(self) -> Dict[str, Any]:
        """vcgencmd readings, refreshed at most every VCGENCMD_EVERY seconds."""
        if self.vcgencmd is None:
            return {}
        now = self.clock()
        if now >= self._vc_next:
            self._vc_next = now + VCGENCMD_EVERY
            vc: Dict[str, Any] = {}
            m = re.search(r"temp=([-\d.]+)", self.vcgencmd("measure_temp") or "")
            vc["gpu_temp_c"] = float(m.group(1)) if m else None
            m = re.search(r"=(\d+)", self.vcgencmd("measure_clock", "arm") or "")
            vc["arm_mhz"] = round(int(m.group(1)) / 1e6, 1) if m else None
            m = re.search(r"throttled=(0x[0-9a-fA-F]+)", self.vcgencmd("get_throttled") or "")
            vc["throttled"] = int(m.group(1), 16) if m else None
            self._vc = vc
        return self._vc

    def throttled(self, firmware: Dict[str, Any]) -> Optional[int]:
        raw = _read(self._throttled_sysfs)
        if raw:
            try:
                return int(raw, 16)
            except ValueError:
                pass
        mask = firmware.get("throttled")
        folder = self._hwmon.get("rpi_volt")
        alarm = _read(os.path.join(folder, "in0_lcrit_alarm")) if folder else None
        if alarm == "1":  # under-voltage now, from the cheap hwmon file
            mask = (mask or 0) | UNDER_VOLTAGE
        return mask

    # -- the sample -----------------------------------------------------------
    def sample(self) -> Dict[str, Any]:
        """One reading of everything; missing values are None."""
        fw = self._firmware()
        mask = self.throttled(fw)
        arm = fw.get("arm_mhz")
        clock_source = "firmware" if arm is not None else None
        if arm is None:
            try:
                freq = psutil.cpu_freq()
                arm = round(freq.current, 1) if freq and freq.current else None
                clock_source = "requested" if arm is not None else None
            except Exception:
                arm = None
        vm = psutil.virtual_memory()
        swap = psutil.swap_memory()
        try:
            load = os.getloadavg()
        except OSError:
            load = (None, None, None)
        running = total = None
        raw = _read(self._path("proc/loadavg"))
        if raw:
            m = re.search(r"\s(\d+)/(\d+)\s", raw)
            if m:
                running, total = int(m.group(1)), int(m.group(2))
        nics = {}
        for nic, c in psutil.net_io_counters(pernic=True).items():
            if nic != "lo":
                nics[nic] = [c.bytes_sent, c.bytes_recv]
        return {  # the keys of SAMPLE_KEYS, in its order
            "t": clock.now(),      # in the main node's terms (parc_mpi/clock.py)
            "cpu_temp_c": self.cpu_temp(),
            "gpu_temp_c": fw.get("gpu_temp_c"),
            "arm_mhz": arm,
            "clock_source": clock_source,
            "throttled": mask,
            "cpu_percent": psutil.cpu_percent(None),
            "load1": load[0], "load5": load[1], "load15": load[2],
            "cores": psutil.cpu_count() or None,
            "procs_running": running, "procs_total": total,
            "processes": len(psutil.pids()),
            "mem_percent": vm.percent, "mem_available_mb": round(vm.available / 2**20, 1),
            "swap_used_mb": round(swap.used / 2**20, 1),
            "net": nics,
        }


def link_info() -> Dict[str, Dict[str, Any]]:
    """Per-NIC state at start: up, negotiated speed in Mbit/s (None if unknown), MTU."""
    out = {}
    for nic, st in psutil.net_if_stats().items():
        if nic == "lo":
            continue
        out[nic] = {"up": st.isup, "speed_mbit": st.speed or None, "mtu": st.mtu,
                    "wireless": nic.startswith(("wl", "wifi", "ath", "ra")) or os.path.isdir(
                        f"/sys/class/net/{nic}/wireless")}
    return out


def node_facts(root: str = "/") -> Dict[str, Any]:
    """Facts that do not change during a run: model, cores, memory, links."""
    model = _read(os.path.join(root, "proc/device-tree/model"))
    return {"model": model.rstrip("\x00") if model else None,
            "cores": psutil.cpu_count() or None,
            "mem_total_mb": round(psutil.virtual_memory().total / 2**20),
            "links": link_info()}
