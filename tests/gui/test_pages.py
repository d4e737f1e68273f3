"""The main window's page API: one PageSpec declares a page's factory, menu actions,
close guard, shutdown and the feeds it offers or takes; the window does the wiring."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel

from dpgui_qt.gui.pages import PageAction, PageSpec


class _Feed:
    def __init__(self):
        self.events = []


def test_actions_go_into_the_menu_and_handles_reroute_a_window_action(window):
    fired = []
    window.add_page(PageSpec(
        "extra", "Extra", lambda w: QLabel("x"),
        actions=[PageAction("extra.first", "&First", lambda: fired.append("first"),
                            tip="goes first", before="run.validate"),
                 PageAction("extra.last", "&Last", lambda: fired.append("last"),
                            enabled=False, separator=True)],
        handles={"run.validate": lambda: fired.append("validate")}))
    acts = [a for a in window.run_menu.actions() if not a.isSeparator()]
    names = {id(a): n for n, a in window.actions.items()}
    order = [names.get(id(a)) for a in acts]
    assert order[0] == "extra.first" and order[1] == "run.validate" and order[-1] == "extra.last"
    assert window.run_menu.actions()[-2].isSeparator()
    assert not window.actions["extra.last"].isEnabled()
    assert "goes first" in window.actions["extra.first"].toolTip()
    window.actions["extra.first"].trigger()
    window.actions["run.validate"].trigger()      # the page answers, the window does not
    assert fired == ["first", "validate"]
    assert window.created_page("extra") is None   # declaring built nothing


def test_feeds_reach_takers_in_either_order(window):
    took = []
    early = _Feed()
    window.add_page(PageSpec("offers_first", "A", lambda w: QLabel("a"), offers={"f1": early}))
    window.add_page(PageSpec("takes_later", "B", lambda w: QLabel("b"),
                             takes={"f1": lambda page, feed: took.append((page.text(), feed)),
                                    "f2": lambda page, feed: took.append((page.text(), feed))}))
    assert took == []                              # the taker is not built yet
    window.show_page("takes_later")
    assert took == [("b", early)]                  # f1 was there; f2 is not offered yet
    late = _Feed()
    window.add_page(PageSpec("offers_late", "C", lambda w: QLabel("c"), offers={"f2": late}))
    assert took == [("b", early), ("b", late)]
    assert window.feed("f1") is early and window.feed("f2") is late and window.feed("nope") is None


def test_close_guard_keeps_the_window_and_shutdown_runs_on_close(window, qtbot):
    answers, shut = [False], []
    window.add_page(PageSpec(
        "guarded", "G", lambda w: QLabel("g"),
        close_guard=lambda page: answers[0],
        shutdown=lambda page: shut.append(page)))
    window.show()
    window.close()                                 # page not built: the guard is not asked
    assert not window.isVisible() and shut == [None]
    window.show()
    window.show_page("guarded")
    shut.clear()
    window.close()                                 # built, and the guard says no
    assert window.isVisible() and shut == []
    answers[0] = True
    window.close()
    assert not window.isVisible() and shut == [window.created_page("guarded")]


def test_run_and_monitor_are_declared_pages(window):
    """The built-in pages come through the same API: the Run menu entries exist before
    the page is built, and the Monitor feed is there without its page."""
    assert window.created_page("run") is None and window.created_page("monitor") is None
    for name in ("run.check", "run.save", "run.save_quit", "run.kill", "run.environment",
                 "run.doctor"):
        assert name in window.actions
    feed = window.feed("monitor")
    assert feed is not None and not feed.created
    page = window.page("run")                      # built: it takes the Monitor feed
    assert page is window.created_page("run") is window.run_page
    assert window.created_page("monitor") is None
