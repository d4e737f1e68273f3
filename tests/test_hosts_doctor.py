"""The hosts' part of the environment doctor: what only a host can tell
(``Host.doctor_checks``, ``Host.memory_wording``, ``diagnostic_commands``).

The WSL host's distribution list and ``.wslconfig`` checks, the local host's
native-Windows error, and a host kind the doctor has never heard of, registered
here: ``dpgui doctor --host`` examines it, runs its diagnostic command and shows
its findings, with no line of the doctor naming it."""
from __future__ import annotations

import json
import sys

import pytest

from dpgui_qt import cli
from dpgui_qt.core import doctor
from dpgui_qt.core.doctor import checks as an
from dpgui_qt.core.doctor.probe import MARKER
from dpgui_qt.core.run import hosts
from dpgui_qt.core.run.hosts import HostSpec
from dpgui_qt.core.run.hosts import wsl as wslmod
from dpgui_qt.core.run.hosts.base import (
    DoctorContext,
    HostBase,
    HostFinding,
    MemoryWording,
)
from dpgui_qt.core.run.hosts.local import LocalHost
from dpgui_qt.core.run.hosts.wsl import WslHost

GIB = 1024 ** 3
WSL_LIST = "  NAME            STATE           VERSION\n* Ubuntu-22.04    Running         2\n  Legacy          Stopped         1\n"


def utf16(text: str) -> bytes:
    return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")


def wslconfig(tmp_path, text: str) -> dict[str, str]:
    (tmp_path / ".wslconfig").write_text(text, encoding="utf-8")
    return {"USERPROFILE": str(tmp_path)}


def test_wsl_list_and_wslconfig_parsers():
    dl = wslmod.parse_wsl_list(utf16(WSL_LIST))
    assert dl == [{"name": "Ubuntu-22.04", "state": "Running", "version": 2, "default": True},
                  {"name": "Legacy", "state": "Stopped", "version": 1, "default": False}]
    assert wslmod.parse_wsl_list(WSL_LIST.encode()) == dl          # an UTF-8 wsl.exe
    assert wslmod.parse_wslconfig_memory("[wsl2]\nmemory=24GB # limit\nprocessors=8\n") == 24 * GIB
    assert wslmod.parse_wslconfig_memory("[wsl2]\nmemory=512MB\n") == 512 * 1024 ** 2
    assert wslmod.parse_wslconfig_memory("[other]\nmemory=24GB\n") is None


def test_wsl_host_findings_through_the_doctor(tmp_path):
    h = WslHost(HostSpec.of("wsl", distro="Ubuntu-22.04"))
    env = wslconfig(tmp_path, "[wsl2]\nmemory=16GB\n")
    r = an.analyse({"python": {"version": "3.12.3"}}, host=h,
                   host_results={"wsl_list": (0, utf16(WSL_LIST), b"")}, environ=env,
                   blocks_to_swap=30, swap_gb=20.0)
    assert r.find("wsl.ok").title == "WSL2 distribution Ubuntu-22.04 (WSL 1: Legacy)"
    assert r.find("wsl.memory").title == ".wslconfig limits WSL to 16 GiB RAM"
    low = r.find("wsl.memory_low")
    assert low.severity == an.WARNING and "memory=44GB" in low.fix
    # no block swap: the limit is reported, nothing is too low
    r = an.analyse({}, host=h, host_results={"wsl_list": (0, utf16(WSL_LIST), b"")}, environ=env)
    assert r.find("wsl.memory") is not None and r.find("wsl.memory_low") is None
    # wsl.exe failed: no distribution; the list was not taken: nothing said about it
    r = an.analyse({}, host=h, host_results={"wsl_list": (1, b"", b"")}, environ={})
    assert r.find("wsl.missing").is_error and "wsl --install" in r.find("wsl.missing").fix
    assert r.findings[0].code == "wsl.missing"
    r = an.analyse({}, host=h, environ={})
    assert not {c for c in r.codes() if c.startswith("wsl.")}
    legacy = "  NAME STATE VERSION\n* Legacy Stopped 1\n"
    r = an.analyse({}, host=h, host_results={"wsl_list": (0, utf16(legacy), b"")}, environ={})
    assert r.find("wsl.version").fix == "wsl --set-version Legacy 2"


def test_finish_gives_the_host_its_diagnostic_results(tmp_path):
    t = doctor.Target(host=HostSpec.of("wsl", distro="Ubuntu"), python="python3", platform="win32")
    assert [s.key for s in doctor.probe_steps(t)] == ["env", "wsl_list"]
    probe = (0, (MARKER + json.dumps({"python": {"version": "3.12.3"},
                                      "memory": {"MemTotal": 8 * GIB, "wsl": True}})).encode(), b"")
    r = doctor.finish(t, {"env": probe, "wsl_list": (0, utf16(WSL_LIST), b"")},
                      environ=wslconfig(tmp_path, "[wsl2]\nmemory=8GB\n"), blocks_to_swap=10,
                      swap_gb=4.0)
    assert {"wsl.ok", "wsl.memory", "wsl.memory_low", "ram.block_swap"} <= r.codes()
    assert r.find("ram").title == "8.0 GiB RAM visible to WSL"
    assert ".wslconfig" in r.find("ram.block_swap").fix
    # this machine (Linux, or native Windows): no WSL findings, .wslconfig or not
    r = doctor.finish(doctor.Target(python="python3", platform="win32"), {"env": probe},
                      environ=wslconfig(tmp_path, "[wsl2]\nmemory=8GB\n"))
    assert not {c for c in r.codes() if c.startswith("wsl.")}


def test_memory_wording_follows_the_probe():
    plain = {"memory": {"MemTotal": GIB}}
    in_wsl = {"memory": {"MemTotal": GIB, "wsl": True}}
    for h in (LocalHost(), WslHost()):
        assert h.memory_wording(plain) == MemoryWording()
        assert h.memory_wording(in_wsl).visible == "visible to WSL"   # dpgui inside WSL, too


def test_native_windows_python_advice_per_host():
    facts = {"python": {"platform": "win32"}}
    local = LocalHost().doctor_checks(DoctorContext(facts))
    assert [f.code for f in local] == ["windows.native"] and "--host wsl" in local[0].fix
    # a Windows python.exe started from inside WSL: choose the distribution's own Python
    inside = WslHost().doctor_checks(DoctorContext(facts))
    assert [f.code for f in inside] == ["windows.native"] and "inside the distribution" in inside[0].fix
    assert LocalHost().doctor_checks(DoctorContext({"python": {"platform": "linux"}})) == []


class BoxHost(HostBase):
    """A host kind the doctor has never heard of: its commands run here through a
    prefix-free wrap, it has one diagnostic command and words its own findings."""

    kind = "testbox"

    def describe(self) -> str:
        return f"test box {self.spec.get('name', '?')}"

    @property
    def is_this_machine(self) -> bool:
        return False

    def to_host_path(self, local_path) -> str:
        return str(local_path)

    def to_local_path(self, host_path: str) -> str | None:
        return host_path

    def wrap(self, argv, env=None, cwd=None) -> list[str]:
        return [str(a) for a in argv]

    def diagnostic_commands(self):
        return [("box_info", [sys.executable, "-c", "print('rack 7')"], "box info")]

    def doctor_checks(self, context):
        rc, out, _ = context.results.get("box_info", (None, b"", b""))
        return [HostFinding("box.info", "info", f"box says {out.decode().strip()} (exit {rc})")]

    def memory_wording(self, facts):
        return MemoryWording("in the box", "Give the box more RAM.")


def test_a_registered_host_kind_is_examined_without_the_doctor_knowing_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(hosts._REGISTRY, "testbox", BoxHost)
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    assert "testbox" in doctor.host_choices()
    rc = cli.main(["doctor", "--host", "testbox", "--host-field", "name=b1",
                   "--python", sys.executable, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    assert data["target"] == f"{sys.executable} on test box b1"
    box = next(f for f in data["findings"] if f["code"] == "box.info")
    assert box["title"] == "box says rack 7 (exit 0)"
    ram = next((f for f in data["findings"] if f["code"] == "ram"), None)
    if ram is not None:                          # the probe reads /proc/meminfo where there is one
        assert ram["title"].endswith("GiB RAM in the box")
    rc = cli.main(["doctor", "--host", "nothere"])
    err = capsys.readouterr().err
    assert rc == 2 and "'testbox' (test box ?)" in err


@pytest.mark.parametrize("kind", ["local", "wsl"])
def test_builtin_hosts_give_the_doctor_what_it_asks(kind):
    h = hosts.make(HostSpec(kind))
    out = h.doctor_checks(DoctorContext({}))
    assert out == [] and isinstance(h.memory_wording({}), MemoryWording)
