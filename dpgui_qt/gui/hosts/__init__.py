"""GUI for training on other machines (issue #15): host profiles, the Run page's Where
choice, the multi-node editor, uploads and downloads, a followed remote run.  Every process
that talks to a host is a QProcess child (:mod:`.jobs`); the logic is in
``dpgui_qt.core.run.hosts`` and ``dpgui_qt.core.run.multinode``."""
