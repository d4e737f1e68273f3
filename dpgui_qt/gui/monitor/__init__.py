"""The Monitor page: live curves, GPU panel and run history.

This package module is import-light (no pyqtgraph, no numpy): the main window
calls :func:`install` at start-up; pyqtgraph is imported when the Monitor tab
is first shown, numpy when the first events arrive.

For the Run page (or anything else that already parses the console log)::

    feed = window.monitor_feed                 # a MonitorFeed, always there
    feed.start_run(run_dir=None, started_at=time.time())   # a new run begins
    feed.feed_events(parser.feed_many(texts))  # the same events the console parsed
    feed.attach_run(run_dir)                   # once the run folder is known:
                                               # adds its TensorBoard files (eval loss,
                                               # grad norm) and its config's plan

``feed.model`` is the :class:`~dpgui_qt.gui.monitor.model.MonitorModel` the page
draws; ``window.page("monitor")`` is the :class:`~.page.MonitorPage`.
"""
from __future__ import annotations

__all__ = ["install", "MonitorFeed"]


class MonitorFeed:
    """Cheap handle that creates the MonitorModel on first use."""

    def __init__(self, window=None):
        self.window = window
        self._model = None

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


def install(window) -> MonitorFeed:
    """Give ``window`` its ``monitor_feed`` and the lazy Monitor page factory."""
    feed = MonitorFeed(window)
    window.monitor_feed = feed

    def factory(w):
        from .page import MonitorPage  # pyqtgraph is imported here, on first show

        return MonitorPage(feed.model, window=w)

    window.set_page_factory("monitor", factory)
    return feed
