"""Sensors against fake sysfs/hwmon trees and fake vcgencmd output."""
from collections import namedtuple


from parc_mpi.monitor.alerts import summarize_alerts
from parc_mpi.monitor.sensors import Sensors, decode_throttled, new_throttle_bits, throttle_cause

Temp = namedtuple("Temp", "label current high critical")


def fake_tree(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


class FakeVcgencmd:
    def __init__(self, throttled="0x0", temp="48.3", clock="1500398464"):
        self.answers = {"measure_temp": f"temp={temp}'C",
                        "measure_clock arm": f"frequency(48)={clock}",
                        "get_throttled": f"throttled={throttled}"}
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.answers.get(" ".join(args))


def test_pi_with_under_voltage_is_a_power_problem(tmp_path):
    root = fake_tree(tmp_path, {"sys/class/hwmon/hwmon3/name": "cpu_thermal",
                                "sys/class/hwmon/hwmon3/temp1_input": "61234"})
    vc = FakeVcgencmd(throttled="0x50005", temp="62.0", clock="600000000")
    s = Sensors(root=root, vcgencmd=vc, temperatures=lambda: {}).sample()
    assert s["cpu_temp_c"] == 61.2 and s["gpu_temp_c"] == 62.0
    assert s["arm_mhz"] == 600.0 and s["clock_source"] == "firmware"
    assert s["throttled"] == 0x50005
    flags = decode_throttled(s["throttled"])
    assert flags["under_voltage"] and flags["throttled"] and flags["under_voltage_occurred"]
    assert not flags["soft_temp_limit"] and not flags["freq_capped"]
    assert throttle_cause(0x50005) == "power supply (under-voltage)"
    assert throttle_cause(0x20002) == "temperature"
    assert throttle_cause(0) is None


def test_vcgencmd_is_forked_at_most_every_ten_seconds(tmp_path):
    now = [0.0]
    vc = FakeVcgencmd()
    sensors = Sensors(root=str(tmp_path), vcgencmd=vc, temperatures=lambda: {},
                      clock=lambda: now[0])
    for t in (0, 2, 4, 6, 8, 10, 12):
        now[0] = t
        sensors.sample()
    assert vc.calls == 2 * 3  # at t=0 and t=10, three readings each


def test_sysfs_throttled_and_hwmon_under_voltage_are_read_without_forking(tmp_path):
    root = fake_tree(tmp_path, {
        "sys/devices/platform/soc/soc:firmware/get_throttled": "50005",
        "sys/class/hwmon/hwmon0/name": "rpi_volt",
        "sys/class/hwmon/hwmon0/in0_lcrit_alarm": "1"})
    s = Sensors(root=root, vcgencmd=None, temperatures=lambda: {}).sample()
    assert s["throttled"] == 0x50005
    root2 = fake_tree(tmp_path / "b", {"sys/class/hwmon/hwmon7/name": "rpi_volt",
                                       "sys/class/hwmon/hwmon7/in0_lcrit_alarm": "1"})
    s2 = Sensors(root=root2, vcgencmd=None, temperatures=lambda: {}).sample()
    assert s2["throttled"] == 0x10001


def test_psutil_keys_pi_and_intel():
    pi = {"cpu-thermal": [Temp("", 45.6, None, None)]}
    intel = {"acpitz": [Temp("", 27.8, None, None)],
             "coretemp": [Temp("Core 0", 50.0, 80, 100), Temp("Package id 0", 55.0, 80, 100)]}
    assert Sensors(root="/nonexistent", vcgencmd=None, temperatures=lambda: pi).cpu_temp() == 45.6
    assert Sensors(root="/nonexistent", vcgencmd=None,
                   temperatures=lambda: intel).cpu_temp() == 55.0


def test_thermal_zone_fallback(tmp_path):
    root = fake_tree(tmp_path, {"sys/class/thermal/thermal_zone0/type": "acpitz",
                                "sys/class/thermal/thermal_zone0/temp": "20000",
                                "sys/class/thermal/thermal_zone1/type": "x86_pkg_temp",
                                "sys/class/thermal/thermal_zone1/temp": "57000"})
    assert Sensors(root=root, vcgencmd=None, temperatures=lambda: {}).cpu_temp() == 57.0


def test_vm_without_sensors_says_none_not_zero(tmp_path):
    s = Sensors(root=str(tmp_path), vcgencmd=None, temperatures=lambda: {}).sample()
    for key in ("cpu_temp_c", "gpu_temp_c", "throttled"):
        assert s[key] is None
    assert s["mem_percent"] > 0 and s["processes"] > 0 and s["cores"] >= 1


def test_only_new_bits_alert():
    assert new_throttle_bits(0x50000, 0x50005) == 0x5
    assert new_throttle_bits(0x50000, 0x50000) == 0
    quiet = [{"throttled": 0x50000, "cpu_temp_c": 50.0, "mem_percent": 40.0}]
    assert summarize_alerts(quiet, baseline=0x50000) == []
    loud = [{"throttled": 0x50005, "cpu_temp_c": 82.0, "mem_percent": 95.0}]
    alerts = summarize_alerts(loud, baseline=0)
    assert alerts[0].startswith("under-voltage during the run: check the power supply")
    assert any("82" in a for a in alerts) and any("95%" in a for a in alerts)


def test_a_sample_has_exactly_the_documented_keys():
    from parc_mpi.monitor.sensors import SAMPLE_KEYS, Sensors
    assert list(Sensors().sample()) == list(SAMPLE_KEYS)
