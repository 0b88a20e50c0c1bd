"""staticreload: hot module reloading driven by a static import graph.

Scan a project's imports with grimp into a networkx graph; when a file changes,
evict the changed module and every loaded module that imports it from
``sys.modules`` and import them again, leaving everything else loaded.
"""

from staticreload.asgi import HotReloadASGIMiddleware, is_asgi_application
from staticreload.dependency_map import DependencyMap
from staticreload.exceptions import (
    AppLoadError,
    ConfigError,
    ModuleImportError,
    NotInMapError,
    PackageNotFoundError,
    ReloadError,
    SourceSyntaxError,
    StaticReloadError,
)
from staticreload.live import LiveReload
from staticreload.reloader import Reloader, ReloadResult
from staticreload.wsgi import HotReloadMiddleware

__version__ = "0.1.0"

__all__ = [
    "AppLoadError",
    "ConfigError",
    "DependencyMap",
    "HotReloadASGIMiddleware",
    "HotReloadMiddleware",
    "LiveReload",
    "ModuleImportError",
    "NotInMapError",
    "PackageNotFoundError",
    "ReloadError",
    "ReloadResult",
    "Reloader",
    "SourceSyntaxError",
    "StaticReloadError",
    "__version__",
    "is_asgi_application",
]
