"""The example app under Werkzeug's reloader: a full restart per edit, as ``flask run --reload``.

Usage: python werkzeug_restart.py PORT   (run in the folder that holds example_wsgi)

Werkzeug's stat reloader, with its default 1 s interval. Its watchdog reloader
watches the standard library and site-packages recursively; the example's
model reads 1,790 standard-library files at start, which overflowed the
inotify queue ("filesystem events were lost") and the edit was never seen.
"""

import logging
import os
import sys

from werkzeug.serving import run_simple

sys.path.insert(0, os.getcwd())
from example_wsgi.app import application

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
port = int(sys.argv[1])
if os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # the child that serves, after each restart
    print(f"serving on http://127.0.0.1:{port}", flush=True)
run_simple("127.0.0.1", port, application, use_reloader=True, reloader_type="stat", threaded=True)
