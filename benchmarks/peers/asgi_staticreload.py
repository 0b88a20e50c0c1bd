"""The ASGI test app under uvicorn with ``HotReloadASGIMiddleware``: hot reload, one process.

Usage: python asgi_staticreload.py PORT   (run in the folder that holds asgi_app)
"""

import os
import sys

import uvicorn

sys.path.insert(0, os.getcwd())

from staticreload.asgi import HotReloadASGIMiddleware

port = int(sys.argv[1])
app = HotReloadASGIMiddleware("asgi_app.main:app")
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
