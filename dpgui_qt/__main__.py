from dpgui_qt.cli import main

raise SystemExit(main())
