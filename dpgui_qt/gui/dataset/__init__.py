"""Dataset tab: Qt adapters over :mod:`dpgui_qt.core.dataset`."""
