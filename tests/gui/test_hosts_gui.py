"""The GUI for SSH hosts and multi-node (issue #15) against a real sshd (tests/sshfix.py):
profile check, upload with progress, following a remote run, Stop, results home, the
Where choice and the multi-node editor.  Every host operation is a QProcess child; the
tests wait on signals and conditions, never on time."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, write_images

pytest_plugins = ["tests.sshfix"]

WAIT = 120_000


@pytest.fixture
def profile(ssh_client, tmp_path):
    """A host profile 'box' for the fixture server, whose checkout is a fake diffusion-pipe
    with the fake deepspeed; its folders are on this machine under tmp_path/remote."""
    from dpgui_qt.core.run.hosts.profiles import HostProfile, upsert_profile

    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    (root / "models").mkdir()
    env = root / "venv"                      # its bin/ goes first on PATH on the host
    (env / "bin").mkdir(parents=True)
    smi = env / "bin" / "nvidia-smi"         # the host's GPU, as nvidia-smi's CSV reports it
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 81559, 40960, 87, GPU-1'\n")
    smi.chmod(0o755)
    p = HostProfile(name="box", destination=ssh_client.alias, checkout=str(co), env=str(env),
                    workdir=str(root / "work"), deepspeed=str(FAKE_DEEPSPEED),
                    python=sys.executable, ssh_config=str(ssh_client.config))
    upsert_profile(p)
    return p, root


def _local_config(tmp_path: Path, root: Path, n_images: int = 5) -> Path:
    local = tmp_path / "local"
    data = local / "data"
    write_images(data, n_images)
    (local / "dataset.toml").write_text(f"resolutions = [512]\n[[directory]]\npath = '{data}'\n")
    cfg = local / "train.toml"
    cfg.write_text(f"# my run\noutput_dir = '{local / 'out'}'\ndataset = 'dataset.toml'\n"
                   "epochs = 1\nmicro_batch_size_per_gpu = 1\npipeline_stages = 1\n"
                   "gradient_accumulation_steps = 1\n"
                   f"[model]\ntype = 'flux'\ndiffusers_path = '{root / 'models'}'\n")
    return cfg


def test_hosts_dialog_adds_edits_and_checks_a_profile(qtbot, ssh_client, tmp_path):
    from dpgui_qt.core.run.hosts.profiles import load_profiles
    from dpgui_qt.gui.hosts.hosts_dialog import HostsDialog

    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    dlg = HostsDialog()
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 0 and not dlg.check_btn.isEnabled()
    e = dlg.form.edits
    e["name"].setText("box")
    e["destination"].setText(ssh_client.alias)
    e["checkout"].setText(str(co))
    e["workdir"].setText(str(root / "work"))
    e["python"].setText(sys.executable)
    e["deepspeed"].setText(str(FAKE_DEEPSPEED))
    e["ssh_config"].setText(str(ssh_client.config))
    assert dlg.save_current()
    assert [p.name for p in load_profiles()] == ["box"] and dlg.list.count() == 1
    # a bad destination is refused with a message, nothing saved
    e["destination"].setText("-oProxyCommand=evil")
    assert not dlg.save_current()
    assert load_profiles()[0].destination == ssh_client.alias

    dlg.reload(select="box")
    with qtbot.waitSignal(dlg.checkFinished, timeout=WAIT) as sig:
        dlg.check_btn.click()
    assert sig.args == ["box", 0], "\n".join(dlg.result_list.item(i).text() for i in range(dlg.result_list.count()))
    texts = [dlg.result_list.item(i).text() for i in range(dlg.result_list.count())]
    assert any("train.py" in t or "checkout" in t for t in texts), texts
    assert "error" not in dlg.levels()
    assert dlg.status.text().startswith("box: ready")

    # the checkout goes away: the check reports it, in red
    (co / "train.py").unlink()
    with qtbot.waitSignal(dlg.checkFinished, timeout=WAIT) as sig:
        dlg.check_current()
    assert sig.args == ["box", 1]
    assert "error" in dlg.levels()
    assert "problems" in dlg.status.text()


def test_upload_shows_the_plan_then_progress_and_sends_nothing_twice(qtbot, profile, tmp_path):
    from dpgui_qt.gui.hosts.transfer import UploadDialog

    _p, root = profile
    cfg = _local_config(tmp_path, root)
    before = cfg.read_bytes()
    dlg = UploadDialog(None, str(cfg), "box")
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.upload_btn.isEnabled(), timeout=WAIT)
    plan = dlg.text.toPlainText()
    assert "10 of 10 files to send" in plan and "rewritten copy" in plan, plan
    progress = []
    dlg.job.jsonLine.connect(lambda ev: progress.append(ev) if ev.get("event") == "progress" else None)
    with qtbot.waitSignal(dlg.uploaded, timeout=WAIT) as sig:
        dlg.upload_btn.click()
    assert sig.args[0]["files"] == 10 and sig.args[0]["bytes"] == dlg.plan["bytes"] > 0
    assert progress and progress[-1]["bytes"] == progress[-1]["total_bytes"] == dlg.plan["bytes"]
    assert dlg.progress.bar.value() == 1000 and f"{dlg.plan['bytes']:,} bytes" in dlg.progress.label.text()
    assert cfg.read_bytes() == before
    assert "# my run" in Path(dlg.plan["remote_config"]).read_text()   # the host's copy

    again = UploadDialog(None, str(cfg), "box")
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.upload_btn.isEnabled(), timeout=WAIT)
    assert "0 of 10 files to send" in again.text.toPlainText()
    assert again.plan["bytes"] == 0
    again.reject()


def test_upload_cancel_stops_the_child(qtbot, profile, tmp_path):
    from dpgui_qt.gui.hosts.transfer import UploadDialog

    _p, root = profile
    cfg = _local_config(tmp_path, root, n_images=3)
    dlg = UploadDialog(None, str(cfg), "box")
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.upload_btn.isEnabled(), timeout=WAIT)
    dlg.start_upload()
    assert dlg.job.running
    with qtbot.waitSignal(dlg.job.done, timeout=WAIT):
        dlg.cancel()
    assert not dlg.job.running
    assert dlg.cancel_btn.text() == "Close" or dlg.upload_result is not None   # cancelled, or it had finished


def _pids_of_run(state_dir: str) -> list[int]:
    import json
    st = json.loads((Path(state_dir) / "state.json").read_text())
    pgid = st.get("pgid")
    out = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True).stdout
    return [int(a) for a, b, st in (ln.split()[:3] for ln in out.splitlines())
            if int(b) == pgid and not st.startswith("Z")]


def test_remote_run_is_followed_step_by_step_and_stopped(qtbot, profile, tmp_path):
    from dpgui_qt.gui.hosts.remote_run import RemoteRunDialog

    _p, root = profile
    cfg = _local_config(tmp_path, root)
    dlg = RemoteRunDialog(None, str(cfg), "box",
                          launch_args=["--env", "FAKE_DS_STEPS=100000", "--env", "FAKE_DS_DELAY=0.05",
                                       "--env", "FAKE_DS_SAVE_EVERY=2", "--state-dir",
                                       str(tmp_path / "state")])
    qtbot.addWidget(dlg)
    up = dlg.upload_dialog
    qtbot.waitUntil(lambda: up.upload_btn.isEnabled(), timeout=WAIT)
    up.upload_btn.click()
    qtbot.waitUntil(lambda: (dlg.step or 0) >= 3, timeout=WAIT)
    assert dlg.phase == "running" and dlg.pointer and dlg.run_id
    assert dlg.progress_label.text().startswith("step ")
    assert "[dpgui] step 1 " in dlg.console.toPlainText()
    assert dlg.stop_btn.isEnabled()
    qtbot.waitUntil(lambda: bool(dlg.gpus), timeout=WAIT)          # the host's GPUs, polled
    assert "GPU 0 NVIDIA H100 80GB HBM3: 87% busy, 40.0 of 79.6 GiB" in dlg.gpu_label.text()
    if os.environ.get("DPGUI_SCREENSHOT_DIR"):      # the README's picture of a remote run
        qtbot.waitUntil(lambda: (dlg.step or 0) >= 12, timeout=WAIT)
        dlg.resize(1100, 640)
        dlg.show()
        assert dlg.grab().save(os.path.join(os.environ["DPGUI_SCREENSHOT_DIR"],
                                            "screenshot-remote-run.png"))
    import json
    host_state = json.loads((Path(dlg.pointer) / "remote.json").read_text())["state_dir"]
    assert _pids_of_run(host_state)
    with qtbot.waitSignals([dlg.finishedRun, dlg.controller.done], timeout=WAIT):
        dlg.stop_btn.click()        # the host escalates to SIGKILL: the fake ranks ignore SIGTERM
    assert dlg.phase == "stopped", dlg.console.toPlainText()[-2000:]
    assert dlg.outcome is not None and dlg.outcome.status == "stopped"
    assert dlg.outcome_label.isVisibleTo(dlg) and dlg.outcome.title in dlg.outcome_label.text()
    assert not dlg.gpu_timer.isActive()
    assert dlg.controller.exit_code == 0
    assert _pids_of_run(host_state) == []            # no process left on the host
    assert dlg.results_btn.isEnabled()

    # bring results home: saved steps ticked, DeepSpeed checkpoints not
    dlg.bring_results_home()
    panel = dlg.results_dialog.panel
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() > 0 and not panel.job.running,
                    timeout=WAIT)
    ticked = panel.ticked()
    assert ticked and all(kind == "save" for kind, _p, _r in ticked)
    run_name = ticked[0][2]
    panel.dest.setText(str(tmp_path / "home"))
    with qtbot.waitSignal(panel.downloaded, timeout=WAIT) as got:
        panel.download()
    files = got.args[0]
    assert files and all(os.path.isfile(f) for f in files)
    assert not any("global_step" in f for f in files)
    assert (tmp_path / "home" / run_name / "step2").is_dir()      # an output_dir's layout
    qtbot.waitUntil(lambda: not panel.job.running, timeout=WAIT)
    assert panel.progress.bar.value() == 1000
    dlg.results_dialog.reject()
    dlg.reject()


def test_remote_run_fills_the_monitor_and_reads_event_files_incrementally(qtbot, profile, tmp_path):
    """The Monitor's curves get the remote run's parsed steps (loss, lr) and its TensorBoard
    scalars, read over the connection a piece at a time: each poll asks only for the bytes
    after those already received."""
    from dpgui_qt.gui.hosts.remote_run import RemoteRunDialog
    from dpgui_qt.gui.monitor import MonitorFeed

    _p, root = profile
    cfg = _local_config(tmp_path, root)
    feed = MonitorFeed(None)
    dlg = RemoteRunDialog(None, str(cfg), "box", monitor=feed,
                          launch_args=["--env", "FAKE_DS_STEPS=100000", "--env", "FAKE_DS_DELAY=0.05",
                                       "--env", "FAKE_DS_TB_EVERY=2", "--state-dir",
                                       str(tmp_path / "state")])
    qtbot.addWidget(dlg)
    dlg.tb_timer.setInterval(3_600_000)      # the test polls by hand (no timing in the verdict)
    up = dlg.upload_dialog
    qtbot.waitUntil(lambda: up.upload_btn.isEnabled(), timeout=WAIT)
    up.upload_btn.click()

    def metrics():                          # start_run replaces the model's RunMetrics
        return feed.model.metrics

    qtbot.waitUntil(lambda: len(metrics().loss) >= 4, timeout=WAIT)
    loss = metrics().loss
    assert list(loss.x[:4]) == [1.0, 2.0, 3.0, 4.0]              # the console's steps, in order
    assert abs(loss.y[0] - 0.2 / 1.1) < 1e-3                      # the fake's loss at step 1
    assert len(metrics().lr) >= 1
    assert dlg.remote_output

    def polled(min_rows):
        with qtbot.waitSignal(dlg.tb_job.done, timeout=WAIT):
            dlg.poll_tb()
        return dlg.tb_rows >= min_rows

    qtbot.waitUntil(lambda: polled(2), timeout=WAIT)       # the first records, once written
    assert dlg.tb_run_dir.startswith(dlg.remote_output)
    tb = metrics().tb.get("eval/loss")
    assert tb is not None and len(tb) >= 2 and tb.x[0] == 2.0
    assert abs(tb.y[0] - 0.3 / 1.2) < 1e-6
    first_reads = list(dlg.tb_reads)
    got = dlg.tb_bytes
    rows_before = dlg.tb_rows
    points_before = len(tb)
    qtbot.waitUntil(lambda: polled(rows_before + 1), timeout=WAIT)   # the second poll

    def contiguous() -> dict[str, int]:
        """Every answer starts where the previous one ended: no byte is read twice."""
        ends: dict[str, int] = {}
        for name, offset, n in dlg.tb_reads:
            assert offset == ends.get(name, 0), dlg.tb_reads
            ends[name] = offset + n
        return ends

    ends = contiguous()
    later = dlg.tb_reads[len(first_reads):]
    assert later and all(off > 0 for name, off, n in later if n)   # only the new bytes
    assert dlg.tb_bytes == sum(ends.values()) > got
    assert len(metrics().tb["eval/loss"]) > points_before and dlg.tb_rows > rows_before
    with qtbot.waitSignal(dlg.finishedRun, timeout=WAIT):
        dlg.kill_btn.click()
    qtbot.waitUntil(lambda: not dlg.tb_job.running, timeout=WAIT)    # the last poll
    ends = contiguous()
    on_host = sum(os.path.getsize(os.path.join(dlg.tb_run_dir, n)) for n in ends)
    assert dlg.tb_bytes == sum(ends.values()) == on_host            # all of it, once
    dlg.reject()


def test_closing_the_dialog_leaves_the_run_going_and_reattach_follows_it(qtbot, profile, tmp_path):
    from dpgui_qt.gui.hosts.remote_run import RemoteRunDialog

    _p, root = profile
    cfg = _local_config(tmp_path, root, n_images=2)
    args = ["--env", "FAKE_DS_STEPS=100000", "--env", "FAKE_DS_DELAY=0.05",
            "--state-dir", str(tmp_path / "state")]
    dlg = RemoteRunDialog(None, str(cfg), "box", launch_args=args)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.upload_dialog.upload_btn.isEnabled(), timeout=WAIT)
    dlg.upload_dialog.upload_btn.click()
    qtbot.waitUntil(lambda: (dlg.step or 0) >= 2 and bool(dlg.pointer), timeout=WAIT)
    import json
    host_state = json.loads((Path(dlg.pointer) / "remote.json").read_text())["state_dir"]
    pointer = dlg.pointer
    with qtbot.waitSignal(dlg.follower.done, timeout=WAIT):
        dlg.reject()                                 # dpgui stops following here
    assert _pids_of_run(host_state)                  # the run goes on on the host

    from dpgui_qt.gui.monitor import MonitorFeed
    feed = MonitorFeed(None)
    again = RemoteRunDialog(None, str(cfg), "box", upload_first=False, monitor=feed)
    qtbot.addWidget(again)
    again.pointer = pointer
    again.reattach()
    assert again.remote_output and again.remote_output == dlg.remote_output   # from the pointer
    last = dlg.step
    qtbot.waitUntil(lambda: (again.step or 0) > last, timeout=WAIT)
    assert feed.model.metrics.loss.x[0] == 1.0      # the Monitor caught up from the first step
    with qtbot.waitSignals([again.finishedRun, again.controller.done], timeout=WAIT):
        again.kill_btn.click()
    assert again.phase == "stopped"
    assert _pids_of_run(host_state) == []
    qtbot.waitUntil(lambda: not again.tb_job.running, timeout=WAIT)   # the last event-file poll
    again.reject()


def test_where_choice_lists_profiles_and_multinode(qtbot, profile):
    from dpgui_qt.gui.hosts.where import LOCAL, MULTI, WherePanel

    w = WherePanel(platform="linux")
    qtbot.addWidget(w)
    keys = [w.combo.itemData(i) for i in range(w.combo.count())]
    assert keys == [LOCAL, "ssh:box", MULTI]
    assert not w.remote and not w.nodes_btn.isVisibleTo(w)
    assert w.select("ssh:box") and w.remote
    assert w.select(MULTI) and w.nodes_btn.isVisibleTo(w)
    assert w.select("ssh:box")
    text, where, _tip = w.remote_command("/x/train.toml")
    assert text == "dpgui launch /x/train.toml --host box" and "box" in where
    assert w.select(LOCAL) and w.remote_command("/x/train.toml") is None
    win = WherePanel(platform="win32")
    qtbot.addWidget(win)
    assert [win.combo.itemData(i) for i in range(win.combo.count())] == ["wsl", "ssh:box", MULTI]
    assert not win.remote


def test_run_page_start_goes_to_the_ssh_host(qtbot, window, profile, tmp_path):
    """With Where = an SSH profile, Start Training opens the upload plan, not a local run."""
    _p, root = profile
    cfg = _local_config(tmp_path, root, n_images=2)
    from tests.gui.run_fixtures import open_run_page
    page = open_run_page(window, cfg)
    page.where_panel.reload()
    assert page.where_panel.select("ssh:box")
    assert page.command_text() == f"dpgui launch {cfg} --host box"      # what the preview shows
    assert page.request_start()
    dlg = page.where_panel.run_dialog
    qtbot.addWidget(dlg)
    assert not page.controller.active
    assert dlg.monitor is window.feed("monitor")      # the run fills the Monitor tab
    qtbot.waitUntil(lambda: dlg.upload_dialog.upload_btn.isEnabled(), timeout=WAIT)
    assert "files to send" in dlg.upload_dialog.text.toPlainText()
    dlg.upload_dialog.reject()
    qtbot.waitUntil(lambda: dlg.phase == "idle", timeout=WAIT)
    dlg.reject()


def test_multinode_editor_previews_and_checks_every_node(qtbot, sshd_factory, tmp_path):
    """Two sshd servers with a home each stand for two nodes ('~/dp' is each one's own
    checkout); node B's checkout moves on a commit and the editor's check reports it."""
    from dpgui_qt.core.run import multinode as mn
    from dpgui_qt.core.run.hosts.profiles import HostProfile, save_profiles
    from dpgui_qt.gui.hosts.hostfile_editor import HostfileEditor, load_setup
    from tests.sshfix import SshClient
    from tests.test_multinode import _git, _node_home

    homes = {n: _node_home(tmp_path / "homes", n, "print('same')\n") for n in ("node-a", "node-b")}
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    for n, home in homes.items():
        client.add(sshd_factory(env={"HOME": str(home)}), alias=n)
    save_profiles([HostProfile(name=n, destination=n, checkout="~/dp", workdir="~/w",
                               python=sys.executable, ssh_config=str(client.config))
                   for n in homes])
    cfg = tmp_path / "x.toml"
    cfg.write_text("epochs = 1\n")
    ed = HostfileEditor(None, config_path=str(cfg))
    qtbot.addWidget(ed)
    assert ed.table.rowCount() == 0 and not ed.check_btn.isEnabled()
    ed.table.add_node(mn.Node("node-a", 1, ssh="node-a"))
    ed.table.add_node(mn.Node("node-b", 2, ssh="node-b"))
    assert "master address" in ed.problems.text()          # two nodes need one
    ed.master_addr.setText("127.0.0.1")
    ed.master_port.setValue(_free_port())
    ed.nccl.editors["NCCL_SOCKET_IFNAME"].setEditText("lo")
    assert ed.problems.text() == ""
    text = ed.preview.toPlainText()
    assert "node-a slots=1\nnode-b slots=2" in text
    assert "--num_nodes=2" in text and "--master_addr=127.0.0.1" in text
    assert "--num_gpus" not in text                         # slots differ: the hostfile rules
    assert "NCCL_SOCKET_IFNAME=lo" in text and "--launcher=pdsh" in text
    help_text = ed.findChild(type(ed.problems), "nccl_help_NCCL_SOCKET_IFNAME").text()
    assert "interface" in help_text
    assert ed.save()
    assert load_setup().nccl["NCCL_SOCKET_IFNAME"] == "lo"
    assert [n.slots for n in load_setup().nodes] == [1, 2]

    ed.table.cellWidget(1, 3).setValue(1)
    with qtbot.waitSignal(ed.checkFinished, timeout=WAIT):
        ed.check_btn.click()
    assert any(c.node == "node-b" and c.code == "master" and c.level == "ok" for c in ed.checks), \
        [c.message for c in ed.checks]
    assert not any(c.code == "commit" and c.is_error for c in ed.checks)
    dp_b = homes["node-b"] / "dp"
    (dp_b / "train.py").write_text("print('other')\n")
    _git(dp_b, "commit", "-q", "-am", "moved on")
    with qtbot.waitSignal(ed.checkFinished, timeout=WAIT):
        ed.check_nodes()
    bad = [c for c in ed.checks if c.is_error and c.code == "commit"]
    assert [c.node for c in bad] == ["node-b"]
    first = ed.results.item(0)
    assert first.data(0x0100)[2] == "error"               # errors are listed first

    # a DeepSpeed hostfile round-trips through export and import
    out = tmp_path / "hostfile"
    assert ed.export_hostfile(str(out))
    assert mn.parse_hostfile(out.read_text())[1].name == "node-b"
    out.write_text("gpu9 slots=4\n")
    assert ed.import_hostfile(str(out))
    assert [(n.name, n.slots) for n in ed.table.nodes()] == [("gpu9", 4)]


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_monitor_outputs_bring_results_home_from_a_host(qtbot, profile, tmp_path):
    """Monitor ▸ Outputs ▸ From a Host…: the config's output_dir on the host is found the way
    the upload maps it; saved epochs are ticked, checkpoints not; the download lands in the
    local output_dir's layout."""
    import json

    from dpgui_qt.gui.monitor.outputs_view import OutputsView

    _p, root = profile
    cfg = _local_config(tmp_path, root, n_images=1)
    r = subprocess.run([sys.executable, "-m", "dpgui_qt", "remote", "plan", str(cfg), "--host", "box",
                        "--json"], capture_output=True, text=True, timeout=120, check=False)
    plan = json.loads(r.stdout.splitlines()[-1])
    run = Path(plan["remote_output_dir"]) / "20260101_10-00-00"
    (run / "epoch1").mkdir(parents=True)
    (run / "epoch1" / "adapter_model.safetensors").write_bytes(b"x" * 3000)
    (run / "global_step40").mkdir()
    (run / "global_step40" / "layer_00-model_states.pt").write_bytes(b"y" * 5000)
    local_out = tmp_path / "local" / "out"
    local_out.mkdir(parents=True)
    view = OutputsView()
    qtbot.addWidget(view)
    view.set_output_dir(local_out, cfg)
    dlg = view.bring_results_home()
    qtbot.addWidget(dlg)
    assert dlg.host_combo.currentText() == "box"
    dlg.start()
    panel = dlg.panel
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 1 and not panel.job.running
                    and not dlg.plan_job.running, timeout=WAIT)
    assert panel.output_dir == plan["remote_output_dir"]
    top = panel.tree.topLevelItem(0)
    states = {top.child(i).text(0): top.child(i).checkState(0) for i in range(top.childCount())}
    from PySide6.QtCore import Qt
    assert states == {"epoch1": Qt.CheckState.Checked,
                      "global_step40 (DeepSpeed checkpoint)": Qt.CheckState.Unchecked}
    assert panel.dest.text() == str(local_out)
    with qtbot.waitSignal(panel.downloaded, timeout=WAIT):
        panel.download()
    got = local_out / "20260101_10-00-00" / "epoch1" / "adapter_model.safetensors"
    assert got.read_bytes() == b"x" * 3000
    assert not (local_out / "20260101_10-00-00" / "global_step40").exists()
    dlg.reject()



def test_multinode_start_from_the_where_choice_runs_to_the_end(qtbot, sshd_factory, tmp_path):
    """Where ▸ Multi-node ▸ Start Training: the upload plan, then the run on the first node
    with DeepSpeed's multi-node options, followed to the end.  (The fake deepspeed starts
    its ranks locally; both "nodes" share this machine's file system.)"""
    import json

    from dpgui_qt.core.run import multinode as mn
    from dpgui_qt.core.run.hosts.profiles import HostProfile, save_profiles
    from dpgui_qt.gui.hosts.hostfile_editor import save_setup
    from dpgui_qt.gui.hosts.where import MULTI, WherePanel
    from tests.sshfix import SshClient

    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    (root / "models").mkdir()
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    for n in ("node-a", "node-b"):
        client.add(sshd_factory(), alias=n)
    save_profiles([HostProfile(name=n, destination=n, checkout=str(co), workdir=str(root / "work"),
                               deepspeed=str(FAKE_DEEPSPEED), python=sys.executable,
                               ssh_config=str(client.config)) for n in ("node-a", "node-b")])
    save_setup(mn.Cluster([mn.Node("node-a", 1, ssh="node-a"), mn.Node("node-b", 1, ssh="node-b")],
                          master_addr="127.0.0.1", master_port=_free_port()))
    cfg = _local_config(tmp_path, root, n_images=2)
    w = WherePanel(platform="linux")
    qtbot.addWidget(w)
    assert w.select(MULTI)
    dlg = w.start(str(cfg))
    qtbot.addWidget(dlg)
    assert "+ 1 node(s)" in dlg.where_label.text()
    qtbot.waitUntil(lambda: dlg.upload_dialog.upload_btn.isEnabled(), timeout=WAIT)
    with qtbot.waitSignal(dlg.finishedRun, timeout=WAIT) as sig:
        dlg.upload_dialog.upload_btn.click()
    text = dlg.console.toPlainText()
    assert sig.args == ["finished"], text[-3000:]
    assert "Running on the following workers: node-a,node-b" in text
    assert "--num_nodes=2" in text and dlg.run_id and dlg.marker_id
    assert f"DPGUI_RUN_ID={dlg.marker_id}" in text
    assert dlg.outcome is not None and dlg.outcome.status == "finished"
    host_state = json.loads((Path(dlg.pointer) / "remote.json").read_text())["state_dir"]
    assert json.loads((Path(host_state) / "state.json").read_text())["exit_code"] == 0


def test_multinode_stop_reaches_every_node(qtbot, sshd_factory, tmp_path):
    """Stop on a multi-node run: the first node's process group is stopped on the host, and
    'dpgui remote stop-nodes' ends whatever carries the run's id on every node."""
    from dpgui_qt.core.run import multinode as mn
    from dpgui_qt.core.run.hosts.profiles import HostProfile, save_profiles
    from dpgui_qt.gui.hosts.remote_run import RemoteRunDialog
    from dpgui_qt.gui.hosts.where import multinode_args
    from tests.sshfix import SshClient

    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    (root / "models").mkdir()
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    for n in ("node-a", "node-b"):
        client.add(sshd_factory(), alias=n)
    save_profiles([HostProfile(name=n, destination=n, checkout=str(co), workdir=str(root / "work"),
                               deepspeed=str(FAKE_DEEPSPEED), python=sys.executable,
                               ssh_config=str(client.config)) for n in ("node-a", "node-b")])
    c = mn.Cluster([mn.Node("node-a", 1, ssh="node-a"), mn.Node("node-b", 1, ssh="node-b")],
                   master_addr="127.0.0.1", master_port=_free_port())
    cfg = _local_config(tmp_path, root, n_images=2)
    dlg = RemoteRunDialog(None, str(cfg), "node-a",
                          launch_args=[*multinode_args(c), "--env", "FAKE_DS_STEPS=100000",
                                       "--env", "FAKE_DS_DELAY=0.05"],
                          nodes=[(n.name, n.slots, n.ssh) for n in c.active])
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.upload_dialog.upload_btn.isEnabled(), timeout=WAIT)
    dlg.upload_dialog.upload_btn.click()
    qtbot.waitUntil(lambda: (dlg.step or 0) >= 2 and bool(dlg.marker_id), timeout=WAIT)
    marker = f"{mn.RUN_MARKER}={dlg.marker_id}".encode()
    assert _marked(marker)
    with qtbot.waitSignals([dlg.finishedRun, dlg.controller.done, dlg.node_stopper.done],
                           timeout=WAIT):
        dlg.stop_btn.click()
    assert dlg.phase == "stopped"
    assert dlg.node_stopper.exit_code == 0, dlg.console.toPlainText()[-2000:]
    assert "[nodes] node-a:" in dlg.console.toPlainText()
    assert _marked(marker) == []                      # nothing of the run is left anywhere


def _marked(marker: bytes) -> list[int]:
    """Live processes whose environment carries ``marker``."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{d}/stat") as f:
                state = f.read().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        if marker in env and state != "Z":
            out.append(int(d))
    return out
