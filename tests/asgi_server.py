"""Serve the project's ASGI application with Daphne, for tests that need real websockets.

    python tests/asgi_server.py PORT

Run by ``tests.daphne_helpers`` in a child process whose environment points at the test
database (``DATABASE_URL``) and, in the scale lane, at Redis (``REDIS_URL``). Static files are
served too, so a browser gets the page's scripts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediation.settings")


def main() -> None:
    port = int(sys.argv[1])
    from daphne.server import Server
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from mediation.asgi import application

    Server(
        application=ASGIStaticFilesHandler(application),
        endpoints=[f"tcp:port={port}:interface=127.0.0.1"],
        signal_handlers=True,
        verbosity=0,
    ).run()


if __name__ == "__main__":
    main()
