"""Qt-free logic, shared by the command line and the GUI: never imports PySide6,
pyqtgraph, ``dpgui_qt.gui`` or ``dpgui_qt.commands`` (tests/test_layering.py checks it).

Wings, each a package that owns one domain; a wing imports only wings below it::

    doctor      is the environment able to train?        (may import everything below)
    monitor     metrics, event files, GPUs, history, outputs
    run         launch specs, supervisor, run folders, pre-flight, log parsing
    dataset | audit
                dataset scans and buckets | schema drift against a diffusion-pipe checkout
                (side by side: neither imports the other)
    config      TOML documents, schemas, validation, rules, tree, templates, presets
    base        the modules at this package's top level: errors, safeio, secrets, trash,
                displaycheck, text (standard library, and send2trash; they import no wing)

The order is checked by tests/test_wing_layers.py. Code two wings need goes down to the
lower one (or to a base module), never into a late import that points up.
"""
