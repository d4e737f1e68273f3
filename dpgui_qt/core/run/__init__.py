"""Console output of a diffusion-pipe run: bytes -> lines -> events -> outcome.

Qt-free and stdlib-only; the launcher and the live monitor both build on it.

* :mod:`.lines`   -- ``LineAssembler`` (bytes chunks -> ``Line``), ANSI helpers
* :mod:`.parse`   -- ``LogParser`` (lines -> typed events), ``parse_text``, ``summarize``
* :mod:`.outcome` -- ``classify`` (events + exit code -> ``Outcome``)
"""
