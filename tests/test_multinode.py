"""Multi-node DeepSpeed (issue #15, deliverable 7): the hostfile model, the launcher
command, the dry run, and -- against two real sshd instances standing for two nodes --
the per-node pre-flight and Stop on every node."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from dpgui_qt.core.run import multinode as mn

pytest_plugins = ["tests.sshfix"]


# -- hostfile ---------------------------------------------------------------
def test_hostfile_follows_deepspeeds_rules():
    nodes = mn.parse_hostfile("# pool\n\nworker-0 slots=4\n  worker-1 slots=2 # spare\n")
    assert [(n.name, n.slots) for n in nodes] == [("worker-0", 4), ("worker-1", 2)]
    with pytest.raises(mn.MultiNodeError, match="listed twice"):
        mn.parse_hostfile("a slots=1\na slots=2\n")
    with pytest.raises(mn.MultiNodeError, match="line 2"):
        mn.parse_hostfile("a slots=1\nb 4\n")
    with pytest.raises(mn.MultiNodeError, match="names no host"):
        mn.parse_hostfile("# nothing\n")


def test_hostfile_text_round_trips_and_skips_unticked_nodes():
    c = mn.Cluster([mn.Node("gpu1", 2), mn.Node("gpu2", 3), mn.Node("gpu3", 1, enabled=False)],
                   master_addr="10.0.0.1")
    text = c.hostfile_text()
    assert "gpu1 slots=2\ngpu2 slots=3\n" in text and "gpu3" not in text
    assert [(n.name, n.slots) for n in mn.parse_hostfile(text)] == [("gpu1", 2), ("gpu2", 3)]
    assert c.world_size == 5
    again = mn.Cluster.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c


def test_problems_say_what_stops_a_launch():
    c = mn.Cluster([mn.Node("a", 2), mn.Node("a", 0), mn.Node("b c", 1)])
    probs = " | ".join(c.problems())
    assert "listed twice" in probs and "slots must be at least 1" in probs
    assert "master address" in probs and "'b c'" in probs
    c = mn.Cluster([mn.Node("a", 1), mn.Node("b", 1)], master_addr="10.0.0.1", launcher="ssh")
    assert any("unknown launcher" in p for p in c.problems())
    c.launcher = "pdsh"
    assert c.problems() == []


def test_parse_nodes_option():
    assert [(n.name, n.slots) for n in mn.parse_nodes("gpu1:2, gpu2:4,gpu3")] == [
        ("gpu1", 2), ("gpu2", 4), ("gpu3", 1)]
    with pytest.raises(mn.MultiNodeError):
        mn.parse_nodes("gpu1:two")


# -- the launch command -------------------------------------------------------
def _launch(cluster, **kw):
    args = dict(deepspeed="/opt/env/bin/deepspeed", checkout="/srv/dp",
                train_args=["train.py", "--deepspeed", "--config", "/w/configs/x.toml"],
                state_dir="/w/runs/r1", run_id="r1")
    args.update(kw)
    return mn.build_launch(cluster, **args)


def test_launcher_options_use_deepspeeds_names():
    c = mn.Cluster([mn.Node("gpu1", 2), mn.Node("gpu2", 2)], master_addr="10.0.0.1",
                   master_port=29600, ssh_port=2222)
    argv = _launch(c).argv
    assert argv[0] == "/opt/env/bin/deepspeed"
    assert argv[1:9] == ["--hostfile=/w/runs/r1/hostfile", "--master_addr=10.0.0.1",
                         "--master_port=29600", "--num_nodes=2", "--num_gpus=2",
                         "--launcher=pdsh", "--ssh_port=2222", "train.py"]
    # different slot counts: --num_gpus would override them all, so the hostfile rules
    c.nodes[1].slots = 4
    argv = _launch(c).argv
    assert not any(a.startswith("--num_gpus") for a in argv)
    assert "--num_nodes=2" in argv


def test_environment_reaches_every_rank():
    c = mn.Cluster([mn.Node("gpu1", 1), mn.Node("gpu2", 1)], master_addr="10.0.0.1")
    c.nccl["NCCL_SOCKET_IFNAME"] = "eth0"
    launch = _launch(c, extra_env={"WANDB_API_KEY": "abcdef123456",
                                   "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
                                   "NCCL_DEBUG": "INFO"})
    # NCCL* is exported by DeepSpeed itself; the rest goes through DS_ENV_FILE
    assert launch.env["NCCL_SOCKET_IFNAME"] == "eth0" and launch.env["NCCL_DEBUG"] == "INFO"
    assert launch.env["NCCL_IB_DISABLE"] == "1"
    assert launch.env["DS_ENV_FILE"] == launch.env_file_path == "/w/runs/r1/deepspeed_env"
    lines = launch.env_file_text.splitlines()
    assert "WANDB_API_KEY=abcdef123456" in lines and "DPGUI_RUN_ID=r1" in lines
    assert "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True" in lines
    text = mn.dry_run_text(launch, c)
    assert "abcdef123456" not in text                       # the secret is masked
    assert "gpu1 slots=1\ngpu2 slots=1" in text
    with pytest.raises(mn.MultiNodeError, match="quotes"):
        _launch(c, extra_env={"X": 'a"b'})
    with pytest.raises(mn.MultiNodeError, match="absolute"):
        _launch(c, checkout="~/dp")


def test_every_nccl_setting_is_explained():
    names = {s.name for s in mn.NCCL_SETTINGS}
    assert {"NCCL_SOCKET_IFNAME", "NCCL_IB_DISABLE"} <= names
    assert all(len(s.help) > 60 for s in mn.NCCL_SETTINGS)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dpgui_qt", "launch", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_cli_dry_run_prints_hostfile_and_command(tmp_path):
    cfg = tmp_path / "x.toml"
    cfg.write_text("output_dir = '/o'\n")
    hf = tmp_path / "hostfile"
    hf.write_text("gpu1 slots=2\ngpu2 slots=2\n")
    r = _cli(str(cfg), "--hostfile", str(hf), "--master-addr", "10.1.2.3", "--node-checkout",
             "/srv/dp", "--node-workdir", "/w", "--nccl", "NCCL_SOCKET_IFNAME=ens5", "--dry-run",
             env={"DPGUI_CONFIG_DIR": str(tmp_path / "cfg")})
    assert r.returncode == 0, r.stderr
    assert "gpu1 slots=2\ngpu2 slots=2" in r.stdout
    assert "--master_addr=10.1.2.3" in r.stdout and "--num_nodes=2" in r.stdout
    # the config where the upload puts it (the sync's mapping, computed without a connection)
    assert re.search(r"--config /w/configs/x\.toml-[0-9a-f]{10}/x\.toml\b", r.stdout), r.stdout
    assert "NCCL_SOCKET_IFNAME=ens5" in r.stdout and "/w/multinode/" in r.stdout
    assert cfg.read_text() == "output_dir = '/o'\n"
    bad = _cli(str(cfg), "--nodes", "gpu1:2,gpu2:2", "--node-checkout", "/srv/dp",
               "--node-workdir", "/w", "--dry-run", env={"DPGUI_CONFIG_DIR": str(tmp_path / "cfg")})
    assert bad.returncode == 2 and "master address" in bad.stderr and "Traceback" not in bad.stderr


# -- two sshd instances as two nodes ------------------------------------------------
def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def _node_home(root, name, commit_text):
    """A node's home: ~/dp (a git checkout with train.py), ~/w/configs/x.toml, ~/w/data."""
    home = root / name
    dp = home / "dp"
    dp.mkdir(parents=True)
    (dp / "train.py").write_text(commit_text)
    _git(dp, "init", "-q")
    _git(dp, "add", "train.py")
    _git(dp, "commit", "-q", "-m", "c")
    (home / "w" / "configs").mkdir(parents=True)
    (home / "w" / "configs" / "x.toml").write_text("epochs = 1\n")
    (home / "w" / "data").mkdir()
    (home / "w" / "data" / "a.txt").write_text("a cat")
    return home


@pytest.fixture
def two_nodes(sshd_factory, tmp_path, monkeypatch):
    """Two sshd servers whose sessions have different homes: ``~/dp`` is node A's or
    node B's checkout.  Both are host profiles (DPGUI_CONFIG_DIR) named node-a/node-b."""
    from dpgui_qt.core.run.hosts.profiles import HostProfile, save_profiles
    from tests.sshfix import SshClient

    if not shutil_which("git"):
        pytest.skip("git is not installed")
    homes = {n: _node_home(tmp_path / "homes", n, "print('same')\n") for n in ("node-a", "node-b")}
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    for n, home in homes.items():
        client.add(sshd_factory(env={"HOME": str(home)}), alias=n)
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path / "cfg"))
    save_profiles([HostProfile(name=n, destination=n, checkout="~/dp", workdir="~/w",
                               ssh_config=str(client.config)) for n in homes])
    return homes


def shutil_which(x):
    import shutil
    return shutil.which(x)


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster():
    return mn.Cluster([mn.Node("node-a", 1), mn.Node("node-b", 1)], master_addr="127.0.0.1",
                      master_port=_free_port())


FAKE_DS = os.path.join(os.path.dirname(__file__), "fake_deepspeed", "deepspeed")


def _req(same_paths=False):
    # the two sshd servers share this machine's file system and differ by their homes:
    # "~/dp" is each node's own checkout, so the same-path rule is off except where tested
    return mn.PreflightRequest(checkout="~/dp", configs=["~/w/configs/x.toml"],
                               datasets=["~/w/data"], deepspeed=FAKE_DS, same_paths=same_paths)


def test_preflight_on_two_nodes_reports_the_node_whose_checkout_differs(two_nodes):
    c = _cluster()
    checks = mn.run_preflight(c, _req())
    assert not mn.has_errors(checks), mn.checks_text(checks)
    assert any(ch.code == "python" and ch.level == "ok" and ch.node == "node-b" for ch in checks)
    assert any(ch.code == "master" and ch.level == "ok" and ch.node == "node-b" for ch in checks)
    assert any(ch.code == "dataset" and ch.level == "ok" for ch in checks)

    # node B's checkout moves on one commit; its config bytes change; its dataset goes
    dp_b = two_nodes["node-b"] / "dp"
    (dp_b / "train.py").write_text("print('other')\n")
    _git(dp_b, "commit", "-q", "-am", "moved on")
    (two_nodes["node-b"] / "w" / "configs" / "x.toml").write_text("epochs = 2\n")
    (two_nodes["node-b"] / "w" / "data" / "a.txt").unlink()
    checks = mn.run_preflight(c, _req())
    bad = {(ch.node, ch.code) for ch in checks if ch.is_error}
    assert ("node-b", "commit") in bad, mn.checks_text(checks)
    assert ("node-b", "config") in bad and ("node-b", "dataset") in bad
    assert not any(n == "node-a" and code in ("commit", "config", "dataset") for n, code in bad)
    msg = next(ch.message for ch in checks if ch.node == "node-b" and ch.code == "commit")
    assert "first node" in msg


def test_preflight_reports_a_checkout_path_that_resolves_elsewhere(two_nodes):
    checks = mn.run_preflight(_cluster(), _req(same_paths=True))
    bad = [ch for ch in checks if ch.is_error]
    assert [(ch.node, ch.code) for ch in bad] == [("node-b", "checkout")], mn.checks_text(checks)
    assert str(two_nodes["node-b"] / "dp") in bad[0].message


def test_preflight_reports_master_port_taken_and_unreachable_node(two_nodes):
    import socket
    c = _cluster()
    with socket.socket() as s:          # something on the master already holds the port
        s.bind(("0.0.0.0", c.master_port))
        s.listen(1)
        checks = mn.run_preflight(c, _req())
    assert any(ch.code == "master" and ch.is_error and "cannot be opened" in ch.message
               for ch in checks), mn.checks_text(checks)
    c.nodes.append(mn.Node("node-c", 1, ssh="nobody@127.0.0.1:1"))
    checks = mn.run_preflight(c, _req(), timeout=60)
    assert any(ch.node == "node-c" and ch.code == "reach" and ch.is_error for ch in checks)


def test_cli_check_exits_1_when_a_node_differs(two_nodes, tmp_path):
    cfg = tmp_path / "x.toml"
    cfg.write_text("epochs = 1\n")
    port = str(_free_port())
    base = [str(cfg), "--nodes", "node-a:1,node-b:1", "--master-addr", "127.0.0.1",
            "--master-port", port, "--node-config", "~/w/configs/x.toml",
            "--node-dataset", "~/w/data", "--check"]
    env = {"DPGUI_CONFIG_DIR": os.environ["DPGUI_CONFIG_DIR"]}
    r = _cli(*base, env=env)
    assert "node-b: reaches the master" in r.stdout, r.stdout + r.stderr
    assert not any(line.startswith("FAIL node-b: the checkout is at") for line in r.stdout.splitlines())
    dp_b = two_nodes["node-b"] / "dp"
    (dp_b / "train.py").write_text("print('other')\n")
    _git(dp_b, "commit", "-q", "-am", "moved on")
    r = _cli(*base, env=env)
    assert r.returncode == 1
    assert any(line.startswith("FAIL node-b: the checkout is at") for line in r.stdout.splitlines()), r.stdout
    # the dry run resolves ~ on the first node and takes the paths from its profile
    r = _cli(str(cfg), "--nodes", "node-a:1,node-b:1", "--master-addr", "127.0.0.1", "--dry-run",
             env=env)
    assert r.returncode == 0, r.stderr
    assert f"cd {two_nodes['node-a'] / 'dp'} &&" in r.stdout
    assert f"--config {two_nodes['node-a'] / 'w' / 'configs' / 'x.toml-'}" in r.stdout


def test_stop_reaches_every_node(two_nodes):
    """Processes carrying the run marker on both nodes (as DeepSpeed's ranks do through
    DS_ENV_FILE) are gone after stop_nodes; another run's process is left alone."""
    c = _cluster()
    sleeper = f"{sys.executable} -c 'import time; time.sleep(600)'"
    started = []
    for n in ("node-a", "node-b"):
        for run_id in ("r1", "other"):
            argv = [*mn.ssh_argv_for(n), f"{mn.RUN_MARKER}={run_id} setsid nohup {sleeper} "
                    f">/dev/null 2>&1 & echo $!"]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
            started.append((n, run_id, int(out.stdout.split()[-1])))
    try:
        res = mn.stop_nodes(c, "r1", grace=5)
        # both "nodes" are this machine, so either may find both processes: count the sum
        assert set(res) == {"node-a", "node-b"}
        assert all(isinstance(v, tuple) and v[1] == 0 for v in res.values()), res
        assert sum(v[0] for v in res.values()) >= 2
        for n, run_id, pid in started:
            alive = _alive(pid)
            assert alive == (run_id == "other"), (n, run_id, pid)
    finally:
        for _n, _r, pid in started:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_multinode_launch_uploads_to_every_node_and_follows_the_run(sshd_factory, tmp_path,
                                                                    monkeypatch):
    """The whole path with the fake deepspeed as the first node's launcher: the dataset goes
    to both nodes, the per-node pre-flight passes, the hostfile and env file are written on
    the first node, DeepSpeed gets the multi-node options, and the run is followed to the end.
    (The fake starts its ranks locally: DeepSpeed's own pdsh fan-out is not exercised.)"""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fake_deepspeed"))
    from fake_ds_support import make_checkout, write_images

    from dpgui_qt.core.run.hosts.profiles import HostProfile, save_profiles
    from tests.sshfix import SshClient

    remote = tmp_path / "remote"
    co, _, _ = make_checkout(remote)
    models = remote / "models"
    models.mkdir()
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    for n in ("node-a", "node-b"):
        client.add(sshd_factory(), alias=n)
    cfg_dir = tmp_path / "cfg"
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(cfg_dir))
    save_profiles([HostProfile(name=n, destination=n, checkout=str(co), workdir=str(remote / "w"),
                               deepspeed=FAKE_DS, python=sys.executable,
                               ssh_config=str(client.config)) for n in ("node-a", "node-b")])
    local = tmp_path / "local"
    data = local / "data"
    write_images(data, 3)
    (local / "dataset.toml").write_text(f"resolutions = [512]\n[[directory]]\npath = '{data}'\n")
    cfg = local / "train.toml"
    text = (f"# mine\noutput_dir = '{local / 'out'}'\ndataset = 'dataset.toml'\nepochs = 1\n"
            "micro_batch_size_per_gpu = 1\npipeline_stages = 1\ngradient_accumulation_steps = 1\n"
            f"[model]\ntype = 'flux'\ndiffusers_path = '{models}'\n")
    cfg.write_text(text)
    record = tmp_path / "record.json"
    r = _cli(str(cfg), "--nodes", "node-a:1,node-b:1", "--master-addr", "127.0.0.1",
             "--master-port", str(_free_port()), "--nccl", "NCCL_SOCKET_IFNAME=lo",
             "--env", f"FAKE_DS_RECORD={record}", "--env", "FAKE_DS_STEPS=3",
             "--state-dir", str(tmp_path / "state"),
             env={"DPGUI_CONFIG_DIR": str(cfg_dir)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[dpgui] step 3" in r.stdout
    assert cfg.read_text() == text                       # the user's config is untouched
    assert "node-b: uploaded" in r.stderr
    rec = json.loads(record.read_text())
    hostfile = next(a.split("=", 1)[1] for a in rec["argv"] if a.startswith("--hostfile="))
    with open(hostfile) as f:
        assert [ln.split() for ln in f if not ln.startswith("#")] == [
            ["node-a", "slots=1"], ["node-b", "slots=1"]]
    assert {"--num_nodes=2", "--master_addr=127.0.0.1", "--launcher=pdsh"} <= set(rec["argv"])
    assert rec["env"]["NCCL_SOCKET_IFNAME"] == "lo" and rec["env"]["DPGUI_RUN_ID"]
    with open(rec["env"]["DS_ENV_FILE"]) as f:
        carried = f.read()
    assert f"DPGUI_RUN_ID={rec['env']['DPGUI_RUN_ID']}" in carried
    assert f"FAKE_DS_RECORD={record}" in carried
    assert rec["cwd"] == str(co)
