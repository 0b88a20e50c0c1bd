"""Where the application keeps its files: from the environment, read once at import."""

import os
import tempfile
from pathlib import Path

DATABASE = Path(os.environ.get("ASGI_APP_DB", Path(tempfile.gettempdir()) / "asgi_app.sqlite3"))
LIFESPAN_LOG = os.environ.get("ASGI_APP_LIFESPAN_LOG")
MODEL_LOAD_S = float(os.environ.get("ASGI_APP_MODEL_LOAD_S", "0.5"))
