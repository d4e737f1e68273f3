"""The queue runner: a detached process that starts queued runs one after another.

Started by :func:`runqueue.ensure_runner` by file path with ``python -I``
(standard library only; the dpgui package it belongs to is put on
``sys.path`` from this file's location), in its own session, so it outlives
the GUI or shell that queued the runs.  It holds ``runner.lock`` while it
lives; a second runner exits at once.

Loop: take the first pending item (unless the queue is paused), wait until no
other run under the same state root is active (the GPUs are shared), start it
through :func:`supervisor.start_run` -- the very path ``dpgui launch`` and the
Run page use -- and wait for the supervisor to record the end.  The outcome
(finished / failed / stopped, with a one-line reason from the console log) is
written to the item.  A failed run pauses the queue unless
``continue_on_failure`` is on.  A ``cancel_requested`` item is stopped
(SIGTERM to its process group, SIGKILL after a grace period).  The runner
exits when nothing is left to start or the queue is paused.

A runner that is restarted while a run it started is still going adopts it
(the item's ``state_dir``) instead of starting another.
"""
from __future__ import annotations

from typing import Any

import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from dpgui_qt.core.run import control, hosts
from dpgui_qt.core.run.runqueue import RUNNER_LOCK, RunQueue
from dpgui_qt.core.run.runs import RunHandle, list_sessions
from dpgui_qt.core.run.supervisor import read_state

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # Windows: no advisory locks

TAIL = 256 << 10


def log(msg: str) -> None:
    print(time.strftime("%Y-%m-%d %H:%M:%S ") + msg, flush=True)


def describe_end(state: dict[str, Any], cancelled: bool, cache_only: bool = False) -> tuple[str, str]:
    """(status, message) of an ended run from its state and console log."""
    from dpgui_qt.core.run.lines import LineAssembler
    from dpgui_qt.core.run.outcome import classify
    from dpgui_qt.core.run.parse import LogParser

    if state.get("status") == "failed_to_start":
        return "failed", state.get("error") or "could not start"
    rc = state.get("exit_code")
    data = b""
    try:
        with open(state.get("log_path") or "", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - TAIL))
            data = f.read()
    except OSError:
        pass
    asm, parser = LineAssembler(), LogParser()
    events = parser.feed_many(asm.feed_raw(data)[0])
    events += parser.feed_many(asm.flush_raw()[0]) + parser.finish()
    out = classify(events, rc, user_stopped=cancelled or bool(state.get("stop_request")),
                   cache_only=cache_only)
    status = out.status if out.status in ("finished", "failed", "stopped") else (
        "finished" if rc == 0 else "failed")
    if cancelled:
        status = "cancelled"
    msg = out.title or (f"exit code {rc}" if rc is not None else "ended")
    if rc not in (None, 0) and str(rc) not in msg:
        msg += f" (exit code {rc})"
    return status, msg


class Runner:
    def __init__(self, folder: Path, state_root: Path, poll_s: float = 1.0,
                 stop_grace_s: float = 20.0):
        self.q = RunQueue(folder)
        self.state_root = state_root
        self.poll_s = poll_s
        self.stop_grace_s = stop_grace_s

    def _next(self) -> dict[str, Any] | None:
        """Claim the next item (marks it running) or None when done/paused."""
        with self.q.edit() as data:
            items: list[dict[str, Any]] = data["items"]
            running = [i for i in items if i["status"] == "running"]
            if running:
                return running[0]         # adopt (a runner restarted mid-run)
            if data["paused"]:
                return None
            for it in items:
                if it["status"] == "pending":
                    it.update(status="running", started_at=time.time(), message="waiting to start")
                    return it
        return None

    def _update(self, item_id: str, **fields: Any) -> dict[str, Any] | None:
        with self.q.edit() as data:
            for it in data["items"]:
                if it["id"] == item_id:
                    it.update(fields)
                    return dict(it)
        return None

    def _wait_for_gpus(self, item_id: str) -> bool:
        """Wait while a run not started by this queue is active; False if cancelled."""
        said = False
        while [h for h in list_sessions(self.state_root, active_only=True)]:
            it = self.q.item(item_id)
            if it is None or it.get("cancel_requested"):
                return False
            if not said:
                self._update(item_id, message="waiting for the run that is using the GPUs")
                said = True
            time.sleep(self.poll_s)
        return True

    def run_item(self, item: dict[str, Any]) -> None:
        iid = item["id"]
        if not item.get("state_dir"):
            if not self._wait_for_gpus(iid):
                self._update(iid, status="cancelled", message="cancelled before it started",
                             ended_at=time.time())
                return
            try:
                # items written before hosts existed hold no host: this machine
                host = hosts.from_state(item)
                st = host.start_supervisor(item["argv"], self.state_root,
                                           env=item.get("env") or {}, cwd=item.get("cwd"),
                                           config=item.get("config"),
                                           output_dir=item.get("output_dir"))
            except (OSError, RuntimeError, ValueError) as e:
                log(f"{iid}: could not start: {e}")
                self._finish(iid, "failed", f"could not start: {e}", None)
                return
            self._update(iid, state_dir=st["state_dir"], message="running")
            log(f"{iid}: started {item.get('label')} ({st['state_dir']})")
            state_dir = st["state_dir"]
        else:
            state_dir = item["state_dir"]
            log(f"{iid}: adopting {state_dir}")
        handle = RunHandle(Path(state_dir))
        stop_sent = False
        while True:
            st = read_state(state_dir) or {}
            if handle.effective_status(st) not in ("starting", "running"):
                break
            if st.get("run_dir"):
                cur = self.q.item(iid) or {}
                if cur.get("run_dir") != st["run_dir"]:
                    self._update(iid, run_dir=st["run_dir"])
            now = self.q.item(iid)
            if (now is None or now.get("cancel_requested")) and not stop_sent:
                stop_sent = True
                log(f"{iid}: cancel requested; stopping the run")
                grace = self.q.load().get("stop_grace_s", self.stop_grace_s)
                try:
                    control.stop(st, float(grace))
                except control.ControlError as e:  # pragma: no cover - state vanished
                    log(f"{iid}: stop failed: {e}")
                continue
            time.sleep(self.poll_s)
        st = read_state(state_dir) or {}
        if handle.effective_status(st) == "lost":
            status, msg = "failed", "the run's processes vanished without an exit code"
        else:
            cur = self.q.item(iid) or {}
            status, msg = describe_end(st, bool(cur.get("cancel_requested")) or stop_sent,
                                       "--cache_only" in (item.get("argv") or []))
        self._finish(iid, status, msg, st.get("exit_code"), st.get("run_dir"))

    def _finish(self, iid: str, status: str, msg: str, rc: int | None,
                run_dir: str | None = None) -> None:
        log(f"{iid}: {status}: {msg}")
        with self.q.edit() as data:
            for it in data["items"]:
                if it["id"] == iid:
                    it.update(status=status, message=msg, exit_code=rc, ended_at=time.time())
                    if run_dir:
                        it["run_dir"] = run_dir
            if status == "failed" and not data["continue_on_failure"]:
                data["paused"] = True
                data["pause_reason"] = "paused after a failed run (continue after a failure is off)"

    def loop(self) -> int:
        while True:
            item = self._next()
            if item is None:
                log("nothing to start (queue empty or paused); runner exits")
                return 0
            self.run_item(item)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print("usage: queue_runner.py QUEUE_DIR STATE_ROOT [--poll S] [--foreground]",
              file=sys.stderr)
        return 2
    folder, state_root = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    poll = float(argv[argv.index("--poll") + 1]) if "--poll" in argv else 1.0
    if os.name != "nt" and "--foreground" not in argv:
        if os.fork() > 0:
            os._exit(0)
        try:
            os.setsid()
        except OSError:
            pass
    lock = open(folder / RUNNER_LOCK, "a+b")
    if fcntl is not None:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0            # another runner is alive
    log(f"runner {os.getpid()} started")
    runner = Runner(folder, state_root, poll)
    while True:
        runner.loop()
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        # something queued while this runner was deciding to exit saw the lock
        # held and started no runner: look once more after letting go
        data = runner.q.load()
        if data["paused"] or not any(i["status"] == "pending" for i in data["items"]):
            break
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                break          # a new runner took over
    lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
