"""SSH host (issue #15): time from Start to the first parsed step on an SSH host vs a local run,
and the upload of a 2,000-file dataset by dpgui's sync vs a bare ``rsync`` of the same folder.

The "host" is a real OpenSSH server on a loopback port (tests/sshfix.py) with the fake
deepspeed as its deepspeed, so the figures measure dpgui's own overhead (ssh round trips, the
helper, the sync's manifest), not a network.  Each figure is the median of --repeat runs;
dpgui and rsync alternate so load on the machine hits both alike.

* start: ``dpgui launch CONFIG`` (local) and ``dpgui launch CONFIG --host box`` (dataset already
  on the host) as subprocesses, clock from spawn to the first ``[dpgui] step 1`` line; "cold"
  = no shared SSH connection yet, "warm" = the ControlMaster is up.
* upload: 2,000 files (1,000 4 KiB "images" + 1,000 captions) into an empty host folder:
  ``sync.make_plan + plan_uploads + upload`` (connection and helper install included; the
  configs are left out as ``dpgui launch`` sends them with the start) vs
  ``rsync -a -e 'ssh -F cfg' SRC/ alias:DST/``; also the upload step alone (what a launch adds:
  its pre-flight round trip carries the comparison); then the same with nothing changed.

Usage: python3 bench/bench_ssh.py [--repeat N] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "fake_deepspeed"))

from tests.sshfix import SshClient, _Factory, have_openssh  # noqa: E402 - after the sys.path entry
from fake_ds_support import FAKE_DEEPSPEED, make_checkout  # noqa: E402 - after the sys.path entry


def _close_masters(ctl: Path) -> None:
    for sock in ctl.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True)


def time_to_first_step(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        for line in p.stdout:
            if line.startswith(b"[dpgui] step 1 "):
                return time.perf_counter() - t0
        raise RuntimeError(f"no step line from {argv}: {p.stderr.read().decode()[-2000:]}")
    finally:
        p.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not have_openssh() or not shutil.which("rsync"):
        print("needs sshd, ssh, ssh-keygen and rsync", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    ctl = Path(tempfile.mkdtemp(prefix="dps-", dir="/tmp"))
    os.chmod(ctl, 0o700)
    factory = _Factory(tmp / "sshd")
    results: dict = {}
    try:
        server = factory()
        client = SshClient(tmp / "client", factory.client_key)
        alias = client.add(server)
        remote = tmp / "remote"
        co, _, _ = make_checkout(remote)
        env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp / "settings"),
                   DPGUI_SSH_CONTROL_DIR=str(ctl), DPGUI_STATE_DIR=str(tmp / "state"))
        dpgui = [sys.executable, "-m", "dpgui_qt"]
        subprocess.run(dpgui + ["hosts", "add", "box", alias, "--checkout", str(co), "--workdir",
                                str(remote / "work"), "--python", sys.executable, "--deepspeed",
                                str(FAKE_DEEPSPEED), "--ssh-config", str(client.config)],
                       env=env, check=True, capture_output=True)
        # a local config whose dataset the gate accepts, for both runs
        from fake_ds_support import write_valid_config
        lco, _, lout = make_checkout(tmp / "localside")
        cfg = write_valid_config(tmp / "localside", lco, lout)
        run_env = ["--env", "FAKE_DS_STEPS=2", "--env", "FAKE_DS_DELAY=0.01"]
        local_argv = dpgui + ["launch", str(cfg), "--checkout", str(lco), "--deepspeed",
                              str(FAKE_DEEPSPEED)] + run_env
        ssh_argv = dpgui + ["launch", str(cfg), "--host", "box"] + run_env
        time_to_first_step(ssh_argv, env)               # dataset uploaded once, not timed
        local, cold, warm = [], [], []
        for _ in range(args.repeat):
            local.append(time_to_first_step(local_argv, env))
            _close_masters(ctl)
            cold.append(time_to_first_step(ssh_argv, env))
            warm.append(time_to_first_step(ssh_argv, env))
        med = statistics.median
        results["start_to_first_step_s"] = {"local": med(local), "ssh_cold": med(cold),
                                            "ssh_warm": med(warm),
                                            "ssh_warm_over_local": med(warm) / med(local),
                                            "ssh_cold_over_local": med(cold) / med(local)}

        # ---- upload of 2,000 files -------------------------------------------------
        src = tmp / "ds2000"
        src.mkdir()
        rnd = os.urandom(4096 * 1000)
        for i in range(1000):
            (src / f"img{i:04d}.png").write_bytes(rnd[i * 4096:(i + 1) * 4096])
            (src / f"img{i:04d}.txt").write_text(f"caption {i}\n")
        (tmp / "ds.toml").write_text(f"[[directory]]\npath = '{src}'\n")
        (tmp / "up.toml").write_text(f"output_dir = '{tmp / 'o'}'\ndataset = 'ds.toml'\n[model]\ntype='flux'\n")
        os.environ["DPGUI_SSH_CONTROL_DIR"] = str(ctl)
        from dpgui_qt.core.run.hosts import HostSpec, make
        from dpgui_qt.core.run.hosts import sync
        ours, bare, ours_again, bare_again, ours_step = [], [], [], [], []
        def run_ours(k: int) -> None:
            _close_masters(ctl)
            host = make(HostSpec.of("ssh", destination=alias, ssh_config=str(client.config),
                                    checkout=str(co), workdir=str(remote / f"w{k}"), python=sys.executable,
                                    control_dir=str(ctl)))
            t0 = time.perf_counter()
            plan = sync.make_plan(tmp / "up.toml", host)
            diff = sync.plan_uploads(plan, host)          # connects, installs, compares
            t1 = time.perf_counter()
            stats = sync.upload(plan, diff, host, write_configs=False)   # configs go with the start
            t2 = time.perf_counter()
            ours.append(t2 - t0)
            ours_step.append(t2 - t1)
            assert stats.files_sent == 2000, stats
            t0 = time.perf_counter()
            diff = sync.plan_uploads(sync.make_plan(tmp / "up.toml", host), host)
            assert sync.upload(plan, diff, host, write_configs=False).bytes_sent == 0
            ours_again.append(time.perf_counter() - t0)

        def run_bare(k: int) -> None:
            rs = ["rsync", "-a", "-e", f"ssh -F {client.config}", f"{src}/", f"{alias}:{remote}/bare{k}/"]
            t0 = time.perf_counter()
            subprocess.run(rs, check=True)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(rs, check=True)
            bare_again.append(time.perf_counter() - t0)

        for k in range(args.repeat):         # alternate who goes first (page cache, load)
            for fn in ((run_ours, run_bare) if k % 2 == 0 else (run_bare, run_ours)):
                fn(k)
        results["upload_2000_files_s"] = {"dpgui": med(ours), "rsync": med(bare),
                                          "ratio": med(ours) / med(bare),
                                          "dpgui_upload_step": med(ours_step),
                                          "upload_step_ratio": med(ours_step) / med(bare),
                                          "dpgui_unchanged": med(ours_again),
                                          "rsync_unchanged": med(bare_again),
                                          "runs_dpgui": [round(x, 3) for x in ours],
                                          "runs_rsync": [round(x, 3) for x in bare],
                                          "bytes": 1000 * 4096 + sum(len(f"caption {i}\n") for i in range(1000))}
    finally:
        _close_masters(ctl)
        factory.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(ctl, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        s = results["start_to_first_step_s"]
        print(f"start -> first parsed step: local {s['local']:.2f} s, SSH warm {s['ssh_warm']:.2f} s "
              f"({s['ssh_warm_over_local']:.2f}x), SSH cold {s['ssh_cold']:.2f} s ({s['ssh_cold_over_local']:.2f}x)")
        u = results["upload_2000_files_s"]
        print(f"upload 2,000 files: dpgui {u['dpgui']:.2f} s (cold: connect + helper install + "
              f"compare + upload), bare rsync {u['rsync']:.2f} s, ratio {u['ratio']:.2f}x; the upload "
              f"step alone (as in a launch, whose pre-flight round trip carries the compare) "
              f"{u['dpgui_upload_step']:.2f} s, {u['upload_step_ratio']:.2f}x; unchanged: dpgui "
              f"{u['dpgui_unchanged']:.2f} s, rsync {u['rsync_unchanged']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
