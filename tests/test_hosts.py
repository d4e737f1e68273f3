"""The host seam: HostSpec and the registry, the WSL host's command forms (on any
platform, with recorded commands), and the local host for real (the supervisor with
the fake deepspeed, signalled through the host, nothing left behind).

The WSL host is also driven end to end on Linux through an *emulated* ``wsl.exe``:
a runner/spawner that strips the ``wsl.exe ... --`` prefix and hands the rest to
``sh``, as the distribution's shell would.  That runs the real supervisor from the
copy the host makes, with the paths the host translated, and stops it through the
host's ``kill`` form."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for

from dpgui_qt.core.run import control, hosts
from dpgui_qt.core.run.hosts import CommandResult, HostError, HostSpec
from dpgui_qt.core.run.hosts import wsl as wslmod
from dpgui_qt.core.run.hosts.local import LocalHost
from dpgui_qt.core.run.hosts.wsl import WslHost
from dpgui_qt.core.run.runs import attach
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.run.supervisor import REQUEST_FILE, read_json

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


class Recorder:
    """A runner that records argv and answers from a table (prefix of argv -> result)."""

    def __init__(self, answers=None):
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv, *, input=None, timeout=30.0, cwd=None, env=None):
        argv = list(argv)
        self.calls.append(argv)
        for key, (rc, out) in self.answers.items():
            if key in " ".join(argv):
                return CommandResult(tuple(argv), rc, out.encode())
        return CommandResult(tuple(argv), 0)


# ---------------------------------------------------------------- spec and registry
def test_host_spec_round_trips_and_is_hashable():
    s = HostSpec.of("wsl", distro="Ubuntu", python=None)
    assert s.to_dict() == {"kind": "wsl", "distro": "Ubuntu"}
    assert HostSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert HostSpec.from_dict(None) == HostSpec() == HostSpec("local")
    assert s.get("distro") == "Ubuntu" and s.get("port", "22") == "22"
    assert s.replace(distro="Debian").get("distro") == "Debian"
    assert len({s, HostSpec.of("wsl", distro="Ubuntu")}) == 1


def test_registry_makes_hosts_and_takes_new_kinds():
    assert isinstance(hosts.make(HostSpec("local")), LocalHost)
    assert isinstance(hosts.make({"kind": "wsl", "distro": "U"}), WslHost)
    assert hosts.make({"kind": "wsl", "distro": "U"}).distro == "U"
    with pytest.raises(HostError, match="unknown host kind 'nope'"):
        hosts.make(HostSpec("nope"))

    class Box(LocalHost):
        kind = "box-test"

    hosts.register("box-test", Box)
    try:
        assert type(hosts.make(HostSpec("box-test"))) is Box and "box-test" in hosts.kinds()
    finally:
        hosts._REGISTRY.pop("box-test")
    # runs written before hosts existed ran here
    assert isinstance(hosts.from_state({"pid": 1}), LocalHost)


def test_both_hosts_implement_the_protocol():
    assert isinstance(LocalHost(), hosts.Host) and isinstance(WslHost(), hosts.Host)


# ---------------------------------------------------------------- WSL paths
@pytest.mark.parametrize("win,linux", [
    (r"C:\data\x", "/mnt/c/data/x"), ("D:/Train/cfg.toml", "/mnt/d/Train/cfg.toml"), ("c:\\", "/mnt/c"),
    (r"\\wsl$\Ubuntu\home\u", "/home/u"), (r"\\wsl.localhost\Ubuntu-22.04\home\u\dp", "/home/u/dp"),
    ("//wsl.localhost/Ubuntu/opt", "/opt"), (r"\\wsl$\Ubuntu", "/"), ("/home/u/x", "/home/u/x"),
    (r"examples\x.toml", "examples/x.toml"),
])
def test_to_linux_path(win, linux):
    assert wslmod.to_linux_path(win) == linux
    assert WslHost().to_host_path(win) == linux


def test_distro_and_reverse():
    assert wslmod.distro_from_path(r"\\wsl$\Ubuntu\home") == "Ubuntu"
    assert wslmod.distro_from_path(r"C:\x") is None
    assert wslmod.to_windows_path("/mnt/c/data/x", "Ubuntu") == r"C:\data\x"
    assert wslmod.to_windows_path("/home/u", "Ubuntu") == r"\\wsl.localhost\Ubuntu\home\u"
    h = WslHost(HostSpec.of("wsl", distro="Ubuntu"))
    assert h.to_local_path("/home/u/out") == r"\\wsl.localhost\Ubuntu\home\u\out"
    assert h.resolve("examples/d.toml", "/home/u/dp") == "/home/u/dp/examples/d.toml"
    assert h.resolve(r"D:\x", None) == "/mnt/d/x" and h.resolve("rel", None) is None
    # the distribution a \\wsl$ checkout names completes a host without one
    assert WslHost().for_paths(None, r"\\wsl$\Arch\home\u").distro == "Arch"
    assert h.for_paths(r"\\wsl$\Arch\x").distro == "Ubuntu"


def test_wsl_executables():
    h = WslHost(HostSpec.of("wsl", distro="U"))
    assert h.executable(None, "deepspeed") == "deepspeed"
    assert h.executable(r"\\wsl$\U\home\u\venv", "deepspeed") == "/home/u/venv/bin/deepspeed"
    assert h.executable("/home/u/venv/bin/deepspeed", "python") == "/home/u/venv/bin/python"
    assert h.executable("/opt/env/bin/python3.12", "python") == "/opt/env/bin/python3.12"


# ---------------------------------------------------------------- WSL command forms
def wsl_host(answers=None, distro="Ubuntu"):
    rec = Recorder(answers)
    spawned: list[list[str]] = []
    h = WslHost(HostSpec.of("wsl", distro=distro), runner=rec,
                spawner=lambda argv, err: spawned.append(list(argv)))
    return h, rec, spawned


def test_wsl_wrap_and_preview_quote_for_the_linux_shell():
    h, _, _ = wsl_host()
    assert h.wrap(["ls", "a b"], {"K": "v w"}, "/home/u") == [
        "wsl.exe", "-d", "Ubuntu", "--cd", "/home/u", "--", "env", "'K=v w'", "ls", "'a b'"]
    assert WslHost().wrap(["true"]) == ["wsl.exe", "--", "true"]
    assert h.preview(["ls"], {}, "/x") == "wsl.exe -d Ubuntu --cd /x -- ls"


def test_wsl_short_commands_signal_gpus_and_copies():
    stat = ("4242 (deepspeed) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n"
            "4243 (python) S 4242 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 778 0 0\n"
            "4300 (python) Z 4242 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 779 0 0\n"
            "9 (bash) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n")
    smi = "0, NVIDIA GeForce RTX 4090, 24564, 1024, 7, GPU-abc\n1, NVIDIA A100, 81920, [N/A], 0, GPU-def\n"
    h, rec, _ = wsl_host({"/proc/": (0, stat), "nvidia-smi": (0, smi)})
    assert h.group_members(4242, 777) == [4242, 4243]          # the zombie is not alive
    assert h.group_members(4242, 999) == []                    # pid reused: the group is gone
    assert h.pid_alive(4243) and not h.pid_alive(4300) and not h.pid_alive(5)
    assert rec.calls[0][:4] == ["wsl.exe", "-d", "Ubuntu", "--"]
    assert rec.calls[0][4:6] == ["sh", "-c"]
    rec.calls.clear()
    assert h.signal_group(4242, "TERM", 777) == [4242, 4243]
    assert rec.calls[-1] == ["wsl.exe", "-d", "Ubuntu", "--", "kill", "-s", "TERM", "--",
                             "-4242", "4243"]
    assert h.kill_argv(7, "KILL", []) == ["wsl.exe", "-d", "Ubuntu", "--", "kill", "-s", "KILL",
                                          "--", "-7"]
    with pytest.raises(HostError):
        h.kill_argv(7, "HUP; rm -rf /", [])
    gpus = h.query_gpus()
    assert rec.calls[-1][4:] == ["nvidia-smi", "--query-gpu=" + hosts.base.NVIDIA_SMI_QUERY,
                                 "--format=csv,noheader,nounits"]
    assert [(g.index, g.name, g.memory_total_mib, g.memory_used_mib) for g in gpus] == [
        (0, "NVIDIA GeForce RTX 4090", 24564, 1024), (1, "NVIDIA A100", 81920, None)]
    h.copy_to(r"C:\data\cfg.toml", "/home/u/cfg.toml")
    assert rec.calls[-1] == ["wsl.exe", "-d", "Ubuntu", "--", "cp", "--", "/mnt/c/data/cfg.toml",
                             "/home/u/cfg.toml"]
    h.copy_from("/home/u/out/log.txt", r"D:\logs\log.txt")
    assert rec.calls[-1][-2:] == ["/home/u/out/log.txt", "/mnt/d/logs/log.txt"]
    assert h.diagnostic_commands() == [("wsl_list", ["wsl.exe", "--list", "--verbose"],
                                        "WSL distributions")]
    assert h.unavailable_reason("win32") is None and "on Linux" in h.unavailable_reason("linux")


def test_wsl_failures_are_sentences():
    h, _, _ = wsl_host({"nvidia-smi": (9, ""), "cp": (1, "")})
    with pytest.raises(HostError, match="nvidia-smi failed on WSL \\(Ubuntu\\)"):
        h.query_gpus()
    with pytest.raises(HostError, match="cannot copy"):
        h.copy_to(r"C:\x", "/y")
    h, _, _ = wsl_host({"/proc/": (1, "")})
    assert h.group_members(5) == [] and h.signal_group(5, "KILL") == []


def test_wsl_start_runs_the_supervisor_inside_the_distribution(tmp_path):
    h, _, spawned = wsl_host()
    with pytest.raises(RuntimeError, match="did not start the trainer"):
        h.start_supervisor(["deepspeed", "train.py"], tmp_path / "state", cwd="/home/u/dp",
                           output_dir=str(tmp_path / "out"), wait_s=0.0)
    state_dir = next((tmp_path / "state").iterdir())
    assert (state_dir / "supervisor.py").is_file()          # the copy the distribution runs
    assert spawned == [["wsl.exe", "-d", "Ubuntu", "--cd", "/", "--", "python3", "-I",
                        wslmod.to_linux_path(str(state_dir / "supervisor.py")),
                        wslmod.to_linux_path(str(state_dir)), "--no-fork"]]
    req = read_json(state_dir / REQUEST_FILE)
    assert req["host"] == {"kind": "wsl", "distro": "Ubuntu"} and req["cwd"] == "/home/u/dp"
    assert set(req["host_paths"]) == {"log_path", "state_dir", "output_dir"}


# ---------------------------------------------------------------- emulated wsl.exe
def _inner(argv):
    """The Linux command line a ``wsl.exe ... -- words`` argv asks for, and its --cd."""
    i = argv.index("--")
    cwd = argv[argv.index("--cd") + 1] if "--cd" in argv[:i] else None
    return " ".join(argv[i + 1:]), cwd


def emulated_runner(argv, *, input=None, timeout=30.0, cwd=None, env=None):
    line, wcwd = _inner(list(argv))
    p = subprocess.run(["sh", "-c", line], input=input, capture_output=True, timeout=timeout,
                       cwd=wcwd)
    return CommandResult(tuple(argv), p.returncode, p.stdout, p.stderr)


def emulated_spawner(argv, err_path):
    line, wcwd = _inner(list(argv))
    with open(err_path, "ab") as err:
        subprocess.Popen(["sh", "-c", line], cwd=wcwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


@linux_only
def test_wsl_host_end_to_end_through_an_emulated_wsl_exe(tmp_path, monkeypatch):
    co, cfg, out = make_checkout(tmp_path)
    # every WSL host made from now on (control and runs make theirs from the run's
    # state) talks to the emulated wsl.exe
    monkeypatch.setitem(hosts._REGISTRY, "wsl", lambda spec: WslHost(
        spec, runner=emulated_runner, spawner=emulated_spawner))
    host = hosts.make(HostSpec.of("wsl", distro="Emu", python=sys.executable))
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=2, host=host.spec,
                   extra_env={"FAKE_DS_STEPS": "100000", "FAKE_DS_DELAY": "0.05"})
    cmd = spec.command()
    assert cmd.host == host.for_paths(co)
    st = host.start_supervisor(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd,
                               config=str(cfg), output_dir=str(out))
    try:
        assert st["status"] == "running" and st["host"] == host.spec.to_dict(), st
        sup_pid = st["supervisor_pid"]
        # the supervisor started is the copy in the state dir, inside its own session
        with open(f"/proc/{sup_pid}/cmdline", "rb") as f:
            assert str(Path(st["state_dir"]) / "supervisor.py").encode() in f.read()
        assert os.getsid(sup_pid) == sup_pid
        wait_for(lambda: len(host.group_members(st["pgid"], st["pid_start_ticks"])) >= 3,
                 timeout=30, what="launcher and two ranks")
        handle = attach(st["state_dir"])
        assert handle.trainer_alive() and handle.supervisor_alive()
        # Stop goes through the host: control reads the host from the state
        control.stop(st, grace_s=10)
        final = handle.wait(timeout=60)
        assert final["status"] == "exited" and final["stop_request"] == "stop", final
        assert not live_group_psutil(st["pgid"])
        wait_for(lambda: not host.pid_alive(sup_pid), timeout=30, what="supervisor exit")
    finally:
        if st.get("pgid"):
            LocalHost().signal_group(st["pgid"], "KILL")


# ---------------------------------------------------------------- the local host, for real
def test_local_host_paths_commands_and_files(tmp_path):
    h = LocalHost()
    assert h.describe() == "this machine" and h.is_this_machine
    assert h.to_host_path("~") == os.path.expanduser("~")
    assert h.to_local_path("/x/y") == "/x/y"
    assert h.resolve("d.toml", str(tmp_path)) == str(tmp_path / "d.toml")
    assert h.resolve("d.toml", None) is None
    assert h.wrap(["a", "b"]) == ["a", "b"]
    assert h.preview(["deepspeed", "a b"], {"K": "v"}, "/co") == "cd /co && K=v deepspeed 'a b'"
    res = h.run([sys.executable, "-c", "import os,sys; print(os.getcwd()); print(os.environ['HX'])"],
                cwd=str(tmp_path), env={"HX": "42"})
    assert res.ok and res.text().split() == [str(tmp_path), "42"]
    assert h.run(["/no/such/program"]).rc == 127
    f = tmp_path / "log"
    f.write_bytes(b"hello world")
    c = h.read_bytes(str(f), 6)
    assert (c.data, c.size, c.end) == (b"world", 11, 11)
    assert h.read_bytes(str(tmp_path / "none")).size is None
    h.copy_to(f, str(tmp_path / "copy"))
    assert (tmp_path / "copy").read_bytes() == b"hello world"
    with pytest.raises(HostError, match="cannot copy"):
        h.copy_from(str(tmp_path / "none"), tmp_path / "x")
    h.touch(str(tmp_path / "save"))
    assert (tmp_path / "save").is_file()
    with pytest.raises(HostError, match="not a regular file"):
        h.touch(str(tmp_path))


@linux_only
def test_local_host_starts_signals_and_leaves_nothing(tmp_path):
    co, cfg, out = make_checkout(tmp_path)
    h = LocalHost()
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=2,
                   extra_env={"FAKE_DS_STEPS": "100000", "FAKE_DS_DELAY": "0.05"})
    cmd = spec.command()
    assert cmd.host == h
    st = h.start_supervisor(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd,
                            config=str(cfg), output_dir=str(out))
    try:
        assert st["status"] == "running" and st["host"] is None
        wait_for(lambda: len(h.group_members(st["pgid"], st["pid_start_ticks"])) >= 3,
                 timeout=30, what="launcher and two ranks")
        assert h.pid_alive(st["pid"], st["pid_start_ticks"])
        signalled = h.signal_group(st["pgid"], "TERM", st["pid_start_ticks"])
        assert st["pgid"] in signalled
        final = attach(st["state_dir"]).wait(timeout=30)
        assert final["status"] == "exited"
        wait_for(lambda: not h.group_members(st["pgid"], st["pid_start_ticks"]), timeout=30,
                 what="the group to be gone")
        assert not live_group_psutil(st["pgid"])
        assert h.signal_group(st["pgid"], "KILL", st["pid_start_ticks"]) == []
    finally:
        h.signal_group(st["pgid"], "KILL")


def test_gpu_query_parses_and_explains(tmp_path):
    rec = Recorder({"nvidia-smi": (0, "0, Tesla T4, 15360, 3, 0, GPU-1\n")})
    assert [g.name for g in LocalHost(runner=rec).query_gpus()] == ["Tesla T4"]
    with pytest.raises(HostError, match="nvidia-smi failed on this machine"):
        LocalHost(runner=Recorder({"nvidia-smi": (127, "")})).query_gpus()
    assert shlex.join(rec.calls[0]).startswith("nvidia-smi --query-gpu=index,name")


def test_log_follower_reads_through_a_host(tmp_path):
    from dpgui_qt.core.run.runs import LogFollower

    class Counting(LocalHost):
        reads = 0

        def read_bytes(self, host_path, offset=0, limit=4 << 20):
            Counting.reads += 1
            return super().read_bytes(host_path, offset, limit)

    log = tmp_path / "run.log"
    f = LogFollower(log, host=Counting(), chunk_size=4)
    assert f.read() == b""                                  # not there yet
    log.write_bytes(b"abcdef")
    assert f.read() + f.read() == b"abcdef" and f.read() == b""
    replacement = tmp_path / "new.log"
    replacement.write_bytes(b"xy")
    os.replace(replacement, log)                            # a new file: start again at 0
    assert f.read() == b"xy" and f.resets == 1 and Counting.reads >= 5
