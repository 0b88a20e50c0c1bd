"""The example app under ``hmr`` (reactive module reloading; Python 3.12+).

Usage: hmr hmr_entry.py   (run in the folder that holds example_wsgi; PORT in the environment)

hmr re-runs this entry whenever something it uses changes; the server is
started once, in a thread, and always calls the latest ``application``.
"""

import os
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

from example_wsgi.app import application

state = sys.__dict__.setdefault("_benchmark_hmr_state", {})
state["application"] = application


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _dispatch(environ, start_response):
    return state["application"](environ, start_response)


if "server" not in state:
    port = int(os.environ["PORT"])
    server = make_server("127.0.0.1", port, _dispatch, server_class=_Server)
    server.RequestHandlerClass.log_message = lambda *args: None
    state["server"] = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving on http://127.0.0.1:{port}", flush=True)
