"""Keeps a scan result for every ``[[directory]]`` of a dataset document.

Results are keyed by a *signature*: the resolved folders plus the settings that change
what a scan reports (caption rules, mask/control folders, model type). Reordering or
duplicating directories therefore reuses results; editing a path scans that directory
again. Scans run on the :class:`ScanController` thread (one at a time; a newer request
cancels the running one and starts after it). A :class:`QFileSystemWatcher` on the
folders re-scans a directory, debounced, when files appear, disappear or are renamed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from dpgui_qt.core.dataset.scan import DatasetScan, DirectoryScan, directory_settings
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.dataset.scan_worker import ScanController

_SCAN_KEYS = ("skip_empty_caption", "online_captions", "cache_shuffle_num", "shuffle_tags",
              "default_mask_file")
_FOLDER_KEYS = ("path", "mask_path", "control_path")
DOC_DEBOUNCE_MS = 350
DISK_DEBOUNCE_MS = 600


def resolve_folder(raw, base_dirs: list[str]) -> str | None:
    """Absolute folder for a path value: as is when absolute, else the first base
    folder where it exists (else joined to the first base)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    p = os.path.expanduser(raw)
    if os.path.isabs(p):
        return os.path.normpath(p)
    for base in base_dirs:
        cand = os.path.join(base, p)
        if os.path.exists(cand):
            return os.path.normpath(cand)
    return os.path.normpath(os.path.join(base_dirs[0], p)) if base_dirs else p


class ScanManager(QObject):
    started = Signal()
    progress = Signal(int, int)
    finished = Signal()  # a scan finished (results changed)
    resultsChanged = Signal()
    failed = Signal(str)

    def __init__(self, session, base_dirs: Callable[[], list[str]],
                 model_type: Callable[[], str | None] = lambda: None, parent=None):
        super().__init__(parent)
        self.session = session
        self.base_dirs = base_dirs
        self.model_type = model_type
        self.results: dict[str, DirectoryScan] = {}
        self.dataset_scan: DatasetScan | None = None
        self.enabled = True
        self._cancelled: set[str] = set()  # cancelled by the user: not re-scanned on their own
        self._inflight: list[str] = []
        self._pending: list[str] = []
        self._pending_force = False
        self._sig_cache: tuple[Any, ...] | None = None
        self._restart = False
        self._queued_start = False  # a restart is queued on the event loop
        self._user_cancel = False
        self.controller = ScanController(self)
        self.controller.progress.connect(self.progress)
        self.controller.finished.connect(self._done)
        self.controller.failed.connect(self._failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DOC_DEBOUNCE_MS)
        self._timer.timeout.connect(self.scan_missing)
        self._disk_timer = QTimer(self)
        self._disk_timer.setSingleShot(True)
        self._disk_timer.setInterval(DISK_DEBOUNCE_MS)
        self._disk_timer.timeout.connect(self._disk_settled)
        self._dirty_folders: set[str] = set()
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._folder_changed)
        bind(session.changed, self, lambda _c: self.schedule())
        session.documentReplaced.connect(self.schedule)

    # ------------------------------------------------------------ entries
    def _bases(self) -> list[str]:
        return [str(b) for b in self.base_dirs()] or [os.getcwd()]

    def entries(self) -> list[dict[str, Any] | None]:
        """Per ``[[directory]]``: its values with folders resolved (None if not a table)."""
        values = self.session.doc.values()
        dirs = values.get("directory")
        if not isinstance(dirs, list):
            return []
        bases = self._bases()
        out: list[dict[str, Any] | None] = []
        for d in dirs:
            if not isinstance(d, dict):
                out.append(None)
                continue
            e = dict(d)
            for key in _FOLDER_KEYS:
                if key in e:
                    e[key] = resolve_folder(e[key], bases) or e[key]
            if isinstance(e.get("default_mask_file"), str):
                e["default_mask_file"] = resolve_folder(e["default_mask_file"], bases)
            out.append(e)
        return out

    def signature(self, entry: dict[str, Any] | None) -> str | None:
        if entry is None:
            return None
        s = directory_settings(entry, self.session.doc.values())
        key = [self.model_type()] + [s.get(k) for k in _FOLDER_KEYS + _SCAN_KEYS]
        return json.dumps(key, default=str)

    def signatures(self) -> list[str | None]:
        key = (id(self.session.doc), self.session.doc.text, self.model_type(),
               tuple(self._bases()))
        c = self._sig_cache
        if c is None or c[0] != key:
            c = self._sig_cache = (key, [self.signature(e) for e in self.entries()])
        return list(c[1])

    def result(self, row: int) -> DirectoryScan | None:
        sigs = self.signatures()
        sig = sigs[row] if 0 <= row < len(sigs) else None
        return self.results.get(sig) if sig is not None else None

    def state(self, row: int) -> str:
        """"done", "scanning", "pending", "cancelled" or "none"."""
        sigs = self.signatures()
        sig = sigs[row] if 0 <= row < len(sigs) else None
        if sig is None:
            return "none"
        if sig in self._inflight and self.controller.running:
            return "scanning"
        r = self.results.get(sig)
        if r is not None:
            return "cancelled" if r.cancelled else "done"
        return "cancelled" if sig in self._cancelled else "pending"

    @property
    def running(self) -> bool:
        return self.controller.running

    def is_idle(self) -> bool:
        # _inflight is cleared when the result has been delivered, which is after the
        # thread stopped running (the finished signal is queued to this thread)
        return not self.controller.running and not self._inflight \
            and not self._timer.isActive() and not self._disk_timer.isActive() \
            and not self._restart and not self._queued_start

    # ------------------------------------------------------------- scans
    def schedule(self) -> None:
        if self.enabled:
            self._timer.start()
        self._rewatch()

    def scan_missing(self) -> None:
        """Scan the directories that have no result yet."""
        self._timer.stop()
        sigs = self.signatures()
        todo = [s for s in dict.fromkeys(sigs) if s is not None and s not in self.results
                and s not in self._cancelled]
        if todo:
            self._start(todo)
        self._prune(sigs)

    def rescan(self, rows: list[int] | None = None) -> None:
        """Scan again (all directories, or ``rows``), even ones scanned before."""
        sigs = self.signatures()
        wanted = [sigs[r] for r in (rows if rows is not None else range(len(sigs)))
                  if 0 <= r < len(sigs)]
        pick = list(dict.fromkeys(s for s in wanted if s is not None))
        for s in pick:
            self._cancelled.discard(s)
        if pick:
            self._start(pick, force=True)

    def cancel(self) -> None:
        self._timer.stop()
        self._restart = False
        if self.controller.running:
            self._user_cancel = True
            self.controller.cancel()

    def _start(self, sigs: list[str], force: bool = False) -> None:
        if self.controller.running:
            # newer request: cancel the running scan and start again when it stops
            self._pending = list(dict.fromkeys(self._inflight + sigs))
            self._pending_force = force
            self._restart = True
            self.controller.cancel()
            return
        by_sig = {}
        for e in self.entries():
            sig = self.signature(e)
            if sig in sigs and sig not in by_sig:
                by_sig[sig] = e
        order = [s for s in sigs if s in by_sig]
        if not order:
            return
        values = {k: v for k, v in self.session.doc.values().items() if k != "directory"}
        values["directory"] = [by_sig[s] for s in order]
        self._inflight = order
        self._user_cancel = False
        self.controller.start(values, model_type=self.model_type(), sizes=True,
                              base_dir=self._bases()[0])
        self.started.emit()
        self.resultsChanged.emit()

    def _done(self, result: DatasetScan) -> None:
        if not self.enabled:  # shut down (its window closed): the late result starts nothing
            self._inflight, self._restart = [], False
            return
        sigs = self._inflight
        self._inflight = []
        restarting = self._restart
        for sig, d in zip(sigs, result.directories):
            if d.cancelled and restarting:
                continue  # superseded, not the user's cancel: scanned again below
            self.results[sig] = d
            if d.cancelled:
                self._cancelled.add(sig)
        if result.cancelled and not restarting:
            for sig in sigs[len(result.directories):]:
                self._cancelled.add(sig)
        self.dataset_scan = result
        self._user_cancel = False
        if restarting:
            self._restart = False
            pending = [s for s in self._pending if s not in self.results or self._pending_force]
            if pending:
                # queued, not started: is_idle() must not report idle in between
                self._queued_start = True
                QTimer.singleShot(0, self, lambda p=pending: self._start_queued(p))
        self._rewatch()
        self.resultsChanged.emit()
        self.finished.emit()
        if not restarting:
            QTimer.singleShot(0, self, self.scan_missing)  # edits made while it ran

    def _start_queued(self, sigs: list[str]) -> None:
        self._queued_start = False
        if self.enabled:
            self._start(sigs, True)

    def _failed(self, message: str) -> None:
        if not self.enabled:
            self._inflight, self._restart = [], False
            return
        self._inflight = []  # (a failed scan delivers no result)
        self._restart = False
        self.failed.emit(message)
        self.resultsChanged.emit()

    def _prune(self, sigs: list[Any]) -> None:
        keep = set(sigs)
        if len(self.results) > 4 * max(1, len(keep)) + 16:
            for s in [s for s in self.results if s not in keep]:
                del self.results[s]

    def shutdown(self) -> None:
        self.enabled = False
        self._timer.stop()
        self._disk_timer.stop()
        self.controller.cancel()
        self.controller.wait(5000)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Process events until no scan runs or is due (tests, --screenshot)."""
        import time

        from PySide6.QtCore import QCoreApplication

        end = time.monotonic() + timeout_s
        if self._timer.isActive():
            self.scan_missing()
        while time.monotonic() < end:
            QCoreApplication.processEvents()
            if self.is_idle():
                return True
            time.sleep(0.005)
        return False

    # ------------------------------------------------------------- watching
    def folders(self) -> dict[str, list[str]]:
        """folder -> signatures that read it."""
        out: dict[str, list[str]] = {}
        for e in self.entries():
            sig = self.signature(e)
            if e is None or sig is None:
                continue
            for key in _FOLDER_KEYS:
                f = e.get(key)
                if isinstance(f, str) and f:
                    out.setdefault(os.path.normpath(f), []).append(sig)
        return out

    def _rewatch(self) -> None:
        want = {f for f in self.folders() if os.path.isdir(f)}
        have = set(self.watcher.directories())
        if have - want:
            self.watcher.removePaths(list(have - want))
        if want - have:
            self.watcher.addPaths(sorted(want - have))

    def _folder_changed(self, folder: str) -> None:
        self._dirty_folders.add(os.path.normpath(folder))
        self._disk_timer.start()

    def _disk_settled(self) -> None:
        folders = self.folders()
        stale = set()
        for f in self._dirty_folders:
            stale.update(folders.get(f, []))
        self._dirty_folders.clear()
        for sig in stale:
            self.results.pop(sig, None)
            self._cancelled.discard(sig)
        if stale:
            self.resultsChanged.emit()
            self.scan_missing()


def folder_of(session, raw) -> Path | None:
    p = resolve_folder(raw, [str(session.doc.path.parent)] if session.doc.path else [os.getcwd()])
    return Path(p) if p else None
