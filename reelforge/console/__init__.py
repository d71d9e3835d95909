"""The web console's files: hand-written HTML, CSS and ES modules, served by `reelforge serve` at `/`.

There is no build step and nothing is fetched from outside the server: `static/` is shipped as package
data, and the pages talk to reelforge only through its documented HTTP endpoints (`/api/console/...` and
the dialects'). `reelforge/api/console/pages.py` serves these files.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
"""The console's files; `index.html` is the page at `/`, the rest is under `/console/`."""
