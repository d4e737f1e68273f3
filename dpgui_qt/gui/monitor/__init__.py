"""The Monitor page: live curves, GPU panel and run history.

This package module is import-light (no pyqtgraph, no numpy): the main window
takes :func:`monitor_page_spec` at start-up; pyqtgraph is imported when the
Monitor tab is first shown, numpy when the first events arrive.

The page offers a feed, ``"monitor"``, for the Run page (or anything else that
already parses the console log); a page takes it through its spec's ``takes``::

    feed = window.feed("monitor")              # a MonitorFeed, always there
    feed.start_run(run_dir=None, started_at=time.time())   # a new run begins
    feed.feed_events(parser.feed_many(texts))  # the same events the console parsed
    feed.attach_run(run_dir)                   # once the run folder is known:
                                               # adds its TensorBoard files (eval loss,
                                               # grad norm) and its config's plan

``feed.model`` is the :class:`~dpgui_qt.gui.monitor.model.MonitorModel` the page
draws; ``window.page("monitor")`` is the :class:`~.page.MonitorPage`.
"""
from __future__ import annotations

__all__ = ["monitor_page_spec", "MonitorFeed"]


class MonitorFeed:
    """Cheap handle that creates the MonitorModel on first use."""

    def __init__(self, window=None):
        self.window = window
        self._model = None
        self.page = None              # the MonitorPage, once the tab has been shown

    @property
    def model(self):
        if self._model is None:
            from .model import MonitorModel

            self._model = MonitorModel(self.window)
        return self._model

    @property
    def created(self) -> bool:
        return self._model is not None

    def feed_events(self, events) -> None:
        self.model.feed_events(events)

    def start_run(self, run_dir=None, started_at: float | None = None) -> None:
        """A new run starts: forget the previous one's curves."""
        m = self.model
        m.reset()
        m.mode = "fed"
        m.metrics.live = True
        if started_at is not None:
            m.metrics.started_at = started_at
        if run_dir:
            self.attach_run(run_dir, started_at=started_at)

    def attach_run(self, run_dir, log_path=None, started_at: float | None = None) -> None:
        self.model.attach_run(run_dir, log_path, fed=True, started_at=started_at)


    def runs_changed(self) -> None:
        """A run started or ended: the Runs list refreshes without a click (when the
        page exists and shows an output folder)."""
        history = self.page.history if self.page is not None else None
        if history is not None and history.output_dir is not None:
            history.refresh()

    def shutdown(self) -> None:
        """The window closes: the follower and GPU sampler threads end first."""
        if self.created:
            self.model.stop()
        if self.page is not None:
            self.page.shutdown()


def monitor_page_spec(window):
    """The Monitor tab for the main window's page API: the page (pyqtgraph is imported
    on first show), its empty state, and the ``"monitor"`` feed it offers."""
    from dpgui_qt.gui.pages import EmptyState, PageSpec

    feed = MonitorFeed(window)

    def factory(w):
        from .page import MonitorPage  # pyqtgraph is imported here, on first show

        feed.page = MonitorPage(feed.model, window=w)
        return feed.page

    return PageSpec(
        "monitor", "Monitor", factory,
        EmptyState("Nothing to monitor yet",
                   "Loss, learning rate and GPU use appear here while a run trains. "
                   "Start one with <b>Run ▸ Start Training</b>.",
                   [window.actions["run.start"]]),
        offers={"monitor": feed},
        shutdown=lambda _page: feed.shutdown(),
    )
