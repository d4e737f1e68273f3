"""Qt widgets, models and controllers. Wiring over dpgui_qt.core."""
