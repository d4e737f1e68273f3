"""Tie a signal connection to the object whose code it runs.

A lambda connected to another object's signal is not disconnected when the widget it
calls into is deleted: the sender (a session, the main window's tab bar) outlives the
page, and the next emit runs into "Internal C++ object already deleted". Qt's C++
``connect(sender, signal, context, functor)`` solves this with a context object;
:func:`bind` does the same here: the connection is dropped when ``owner`` is destroyed.
Timers take their owner directly: ``QTimer.singleShot(ms, owner, fn)``.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject


def bind(signal, owner: QObject, fn: Callable[..., Any]):
    """``signal.connect(fn)`` for as long as ``owner`` lives; returns the connection."""
    conn = signal.connect(fn)

    def drop(*_args) -> None:
        try:
            QObject.disconnect(conn)
        except (RuntimeError, TypeError):  # the sender went first: nothing left to drop
            pass

    owner.destroyed.connect(drop)
    return conn
