"""Django: every edit served, edits Django cannot take in place applied by a restart.

Django keeps, in process-wide caches and registries, objects that came from
the project's modules; after a reload they would keep answering with the old
code (PITFALLS 23). Three parts:

* :func:`targets` says what to watch: every installed app whose files live in
  the project, the settings module's package and the root URLconf's package,
  whatever module the WSGI application lives in.
* :func:`restart_patterns` says what cannot run again in place: models (the
  app registry refuses a model a second time), ``apps.py`` (an ``AppConfig``
  is made and its ``ready()`` run once), migrations, the settings. Pass them
  as ``restart_on=``: such an edit gives a :class:`ReloadResult` with
  ``restart``, and one log line saying why.
* :func:`install`, once the application is loaded, hooks the reloader. It
  marks ``__staticreload_decline__`` any module of the project that defines a
  model outside those patterns, and makes the root URLconf depend on the
  URLconfs it includes by name (``include("blog.urls")``) and on the apps'
  ``admin`` modules.
  Before modules are evicted, what they registered at import time is taken
  out of Django's registries, so that running them again neither registers
  twice nor is refused: signal receivers, admin registrations, system checks
  (a path converter may simply be registered again). A failed reload puts
  them back as they were. After each reload, the caches that hold old objects
  are cleared: URL resolvers, template tag libraries and the compiled
  templates that use them, context processors, the middleware chain.
  Template files are checked as each request starts (one ``stat`` per cached
  template), so a template edit is served by the next request, with or
  without ``DEBUG``.

Django is imported only by :func:`targets` (it reads the settings); everything
else uses the Django modules the application has already imported.
"""

from __future__ import annotations

import abc
import ast
import contextlib
import fnmatch
import glob
import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from staticreload.exceptions import AppLoadError, describe
from staticreload.modules import DECLINE_FLAG
from staticreload.reloader import Reloader, ReloadResult
from staticreload.sources import is_ignored

__all__ = [
    "RESTART_PATTERNS",
    "SETTINGS_ENV",
    "DjangoIntegration",
    "install",
    "is_configured",
    "project_options",
    "restart_patterns",
    "settings_module_for",
    "targets",
]

logger = logging.getLogger(__name__)

SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"

# Files whose edits Django takes only at start, as ``restart_on`` patterns
# (fnmatch, where ``*`` also matches ``/``): models register into the app
# registry, which refuses them a second time; an AppConfig is instantiated
# and its ready() run once; migrations are read by the migrate command, never
# by a running server, so editing one restarts like runserver does.
RESTART_PATTERNS = ("*/models.py", "*/models/*.py", "*/apps.py", "*/migrations/*.py")

# A file's modification time can lag the clock by a timer tick or more: a
# template file modified this close to the moment its template was cached may
# have been read before or after the change (see _RecordingCache).
_RACY_NS = 100_000_000

_installed: weakref.WeakKeyDictionary[Reloader, DjangoIntegration] = weakref.WeakKeyDictionary()


# What to watch, what to restart for: called before the reloader is built.


def settings_module_for(app_module: str | None = None) -> str | None:
    """The settings module of a Django project, found without running the project's code.

    Args:
        app_module: the module the application lives in (``"mysite.wsgi"``).
            Its source is searched for ``os.environ.setdefault(
            "DJANGO_SETTINGS_MODULE", "...")``, as Django's ``wsgi.py`` and
            ``asgi.py`` templates write it; ``$DJANGO_SETTINGS_MODULE`` counts
            only if the source mentions Django (a variable left in the shell
            does not make a Flask application a Django project).

    Returns:
        With ``app_module``: the settings module its source names, else
        ``$DJANGO_SETTINGS_MODULE`` as above. Without: the configured settings'
        module if Django is set up, else ``$DJANGO_SETTINGS_MODULE``. None if
        nothing says (not a Django project).
    """
    from_env = os.environ.get(SETTINGS_ENV) or None
    if app_module is None:
        if is_configured():
            configured: str = sys.modules["django.conf"].settings.SETTINGS_MODULE
            return configured
        return from_env
    path = _source_of(app_module)
    try:
        source = path.read_bytes() if path is not None else b""
    except OSError:
        source = b""
    named = _settings_named_in(source, path)
    if named is not None:
        return named
    return from_env if b"django" in source else None


def targets(
    *, settings_module: str | None = None, root: str | os.PathLike[str] | None = None
) -> list[str]:
    """What to watch for a Django project: top-level package names for ``Reloader.from_targets``.

    The packages of every installed app, of the settings module and of the
    root URLconf, if they live under ``root``; packages in a virtual
    environment or ``site-packages`` (Django's own apps, installed ones) and
    staticreload itself never count.

    Args:
        settings_module: the settings module, if Django is not configured yet
            and ``$DJANGO_SETTINGS_MODULE`` is not set (it is then set, as
            ``manage.py`` does).
        root: the project folder; default: the folder the settings module's
            top-level package is imported from (where ``manage.py`` is).

    Returns:
        The top-level package (or loose module) names, settings' first.

    Raises:
        AppLoadError: the settings cannot be loaded.
    """
    settings = _settings(settings_module)
    settings_name: str = settings.SETTINGS_MODULE
    base = Path(root).resolve() if root is not None else _import_root(settings_name)
    names = [settings_name, settings.ROOT_URLCONF, *settings.INSTALLED_APPS, *_app_names()]
    found: list[str] = []
    for name in names:
        top = str(name).partition(".")[0]
        if top in found or top == __name__.partition(".")[0]:
            continue
        location = _location(top)
        if location is not None and base is not None and not is_ignored(location, base):
            found.append(top)
    return found


def restart_patterns(*, settings_module: str | None = None) -> list[str]:
    """The ``restart_on`` patterns of a Django project: :data:`RESTART_PATTERNS` and its settings.

    Nothing is imported.

    Args:
        settings_module: the settings module; default: :func:`settings_module_for`.

    Returns:
        fnmatch patterns against a module's path (relative to the map's root or
        absolute): models modules and packages, ``apps.py``, migrations, and the
        settings module's file (a module that imports it, such as a
        ``settings/dev.py`` importing ``base.py``, is in the same closure).
    """
    patterns = list(RESTART_PATTERNS)
    name = settings_module or settings_module_for()
    path = _source_of(name) if name else None
    if path is not None:
        patterns.append(glob.escape(os.fspath(path)))
    return patterns


def is_configured() -> bool:
    """Whether the process runs a Django project: Django imported and its settings configured.

    Imports nothing.
    """
    conf = sys.modules.get("django.conf")
    settings = getattr(conf, "settings", None)
    return bool(getattr(settings, "configured", False))


# Hooks: installed once the application is loaded.


def install(
    reloader: Reloader, *, application: Callable[[], object] | None = None
) -> DjangoIntegration | None:
    """Keep Django's registries and caches right across ``reloader``'s reloads.

    Call it after the application is loaded (``django.setup()`` has run).
    Installing twice on one reloader installs once.

    Args:
        reloader: the reloader of the project.
        application: returns the application being served now (for
            ``HotReloadMiddleware``: ``lambda: middleware.application``), if it
            may be a Django handler other than the objects that
            ``settings.WSGI_APPLICATION`` and ``settings.ASGI_APPLICATION``
            name. The handlers load their middleware again when a middleware
            module is reloaded.

    Returns:
        The integration (:meth:`DjangoIntegration.close` undoes it), or None if
        the application is not a Django project (:func:`is_configured` is False).
    """
    if not is_configured():
        return None
    integration = _installed.get(reloader)
    if integration is None:
        integration = DjangoIntegration(reloader, application=application)
        _installed[reloader] = integration
    return integration


class DjangoIntegration:
    """The hooks :func:`install` adds to a reloader, and the per-request template check.

    A reload that retries with the whole project (after a circular import)
    calls the pre-reload hook twice; what both calls took out is forgotten,
    and the snapshot the first call took is what a failure puts back.

    Attributes:
        reloader: the reloader hooked.
    """

    def __init__(
        self, reloader: Reloader, *, application: Callable[[], object] | None = None
    ) -> None:
        """Hook ``reloader``; use :func:`install` rather than this.

        Args:
            reloader: the reloader of the project.
            application: see :func:`install`.
        """
        self.reloader = reloader
        self._application = application
        self._registries: tuple[_Registry, ...] = (
            _SignalReceivers(),
            _AdminRegistrations(),
            _SystemChecks(),
            _PathConverters(),
        )
        self._undo: list[Callable[[], None]] | None = None
        self._templates = _TemplateFreshness()
        self._closed = False
        with reloader.lock.write():  # a reload may be under way (a save during start-up)
            _decline_model_modules(reloader)
            _autodiscovered_before_urlconf(reloader)
            _included_urlconfs(reloader)
            _SignalReceivers.scan()  # now, not during the first reload
            self._templates.connect()
            reloader.add_pre_reload_hook(self.before_reload)
            reloader.add_post_reload_hook(self.after_reload)

    def close(self) -> None:
        """Stop: the hooks do nothing any more and templates are no longer checked."""
        self._closed = True
        _installed.pop(self.reloader, None)
        self._templates.disconnect()

    def before_reload(self, modules: tuple[str, ...]) -> None:
        """Take out of Django's registries what ``modules`` registered (pre-reload hook)."""
        if self._closed:
            return
        if self._undo is None:
            self._undo = [registry.snapshot() for registry in self._registries]
        reloading = frozenset(modules)
        for registry in self._registries:
            registry.forget(reloading)

    def after_reload(self, result: ReloadResult) -> None:
        """Put the registries back after a failure; clear Django's caches (post-reload hook)."""
        undo, self._undo = self._undo, None
        if self._closed:
            return
        if undo is not None:
            if result.rolled_back:
                for restore in reversed(undo):
                    restore()
            for registry in self._registries:
                registry.end()
        if result.restart is not None or (result.error is not None and not result.rolled_back):
            return  # nothing was evicted: a restart, or a file that does not compile
        _clear_url_caches()
        if result.ok:
            _included_urlconfs(self.reloader)
        touched = frozenset(result.reloaded) | frozenset(result.changed)
        _refresh_templates(touched)
        self._reload_middleware(touched)

    def _reload_middleware(self, touched: frozenset[str]) -> None:
        """Load the handlers' middleware again if a middleware module was reloaded."""
        settings = sys.modules["django.conf"].settings
        modules = {str(path).rpartition(".")[0] for path in settings.MIDDLEWARE}
        if not modules & touched:
            return
        asgi = sys.modules.get("django.core.handlers.asgi")
        for handler in self._handlers():
            handler.load_middleware(
                is_async=asgi is not None and isinstance(handler, asgi.ASGIHandler)
            )
        logger.debug("middleware loaded again")

    def _handlers(self) -> Iterator[Any]:
        """The Django handlers serving now, wrappers (StaticFilesHandler) unwrapped."""
        base = sys.modules["django.core.handlers.base"].BaseHandler
        settings = sys.modules["django.conf"].settings
        candidates = []
        for setting in ("WSGI_APPLICATION", "ASGI_APPLICATION"):
            module, _, attribute = str(getattr(settings, setting, "") or "").rpartition(".")
            candidates.append(getattr(sys.modules.get(module), attribute, None))
        if self._application is not None:
            candidates.append(self._application())
        seen: set[int] = set()
        for candidate in candidates:
            found = candidate
            for _ in range(8):  # wrappers of wrappers, bounded
                if found is None or id(found) in seen:
                    break
                seen.add(id(found))
                if isinstance(found, base):
                    yield found
                found = getattr(found, "application", None)


# Registries: what modules register at import time, taken out before they run again.


class _Registry(abc.ABC):
    """A registry modules add to at import time.

    In a reload, :meth:`snapshot` is called once, before the first
    :meth:`forget`; then, after the reload and its restore if it failed, :meth:`end`.
    """

    @abc.abstractmethod
    def snapshot(self) -> Callable[[], None]:
        """Copy the registry; return a function that puts the copy back."""

    @abc.abstractmethod
    def forget(self, modules: frozenset[str]) -> None:
        """Take out what ``modules`` registered."""

    def end(self) -> None:  # noqa: B027 (most registries have nothing to do then)
        """The reload is over (it succeeded or was rolled back)."""


def _module_of(value: object) -> str | None:
    module = getattr(value, "__module__", None)
    return module if isinstance(module, str) else None


class _SignalReceivers(_Registry):
    """Receivers connected at import time: an old one would fire beside the new one,
    or (with ``dispatch_uid``) keep the new one from connecting at all.

    Signals are found in the namespaces of the loaded modules, each module
    object looked at once (shared by every integration of the process).
    """

    _signals: ClassVar[weakref.WeakSet[Any]] = weakref.WeakSet()
    _scanned: ClassVar[dict[str, weakref.ReferenceType[ModuleType]]] = {}

    @classmethod
    def scan(cls) -> list[Any]:
        """Every signal defined at the top level of a loaded module."""
        dispatcher = sys.modules.get("django.dispatch.dispatcher")
        if dispatcher is None:
            return []
        scanned = cls._scanned
        for name, module in list(sys.modules.items()):
            seen = scanned.get(name)
            if seen is not None and seen() is module:
                continue
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, dict):
                cls._signals.update(
                    v for v in list(namespace.values()) if isinstance(v, dispatcher.Signal)
                )
            with contextlib.suppress(TypeError):  # not a module: may not be weakly referenced
                scanned[name] = weakref.ref(module)
        return list(cls._signals)

    def snapshot(self) -> Callable[[], None]:
        saved = [(signal, list(signal.receivers)) for signal in self.scan()]

        def restore() -> None:
            for signal, receivers in saved:
                with signal.lock:
                    signal.receivers[:] = receivers
                    signal.sender_receivers_cache.clear()

        return restore

    def forget(self, modules: frozenset[str]) -> None:
        for signal in list(self._signals):  # found by the snapshot just taken
            with signal.lock:
                kept = [r for r in signal.receivers if _receiver_module(r) not in modules]
                if len(kept) != len(signal.receivers):
                    signal.receivers[:] = kept
                    signal.sender_receivers_cache.clear()


def _receiver_module(entry: tuple[Any, ...]) -> str | None:
    """The module of a receiver as ``Signal.receivers`` holds it (``(key, receiver, ...)``)."""
    receiver = entry[1]
    if isinstance(receiver, weakref.ReferenceType):  # WeakMethod included
        receiver = receiver()
    return _module_of(receiver)


class _AdminRegistrations(_Registry):
    """Models registered with an admin site by a reloaded ``admin.py``: registering them
    again would raise ``AlreadyRegistered``.

    A registration belongs to a module if its ``ModelAdmin`` class was defined
    there; one with the default ``ModelAdmin`` belongs to the model's app's
    ``admin`` module.
    """

    @staticmethod
    def _sites() -> list[Any]:
        sites = sys.modules.get("django.contrib.admin.sites")
        return [] if sites is None else list(sites.all_sites)

    def snapshot(self) -> Callable[[], None]:
        saved = [(site, dict(site._registry)) for site in self._sites()]

        def restore() -> None:
            for site, registry in saved:
                site._registry.clear()
                site._registry.update(registry)

        return restore

    def forget(self, modules: frozenset[str]) -> None:
        options = sys.modules.get("django.contrib.admin.options")
        if options is None or not modules:
            return
        for site in self._sites():
            for model, model_admin in list(site._registry.items()):
                owner = type(model_admin)
                if owner is options.ModelAdmin:
                    registered_by = f"{model._meta.app_config.name}.admin"
                else:
                    registered_by = _module_of(owner) or ""
                if registered_by in modules:
                    del site._registry[model]


class _SystemChecks(_Registry):
    """Checks registered with ``@register`` by a reloaded module: they would run twice."""

    @staticmethod
    def _sets() -> list[set[Any]]:
        registry = sys.modules.get("django.core.checks.registry")
        if registry is None:
            return []
        return [registry.registry.registered_checks, registry.registry.deployment_checks]

    def snapshot(self) -> Callable[[], None]:
        saved = [(checks, set(checks)) for checks in self._sets()]

        def restore() -> None:
            for checks, copy in saved:
                checks.clear()
                checks.update(copy)

        return restore

    def forget(self, modules: frozenset[str]) -> None:
        for checks in self._sets():
            checks.difference_update([c for c in checks if _module_of(c) in modules])


class _PathConverters(_Registry):
    """Path converters: registering a name again warns (Django 5.x) or raises (6.0).

    Django's documented idiom registers a converter in a URLconf, which runs
    again with every edit of a view it imports. Taking converters out first
    would break a URLconf that runs again and uses a converter another one
    registered; so nothing is taken out: during a reload, a registered name
    looks free to ``register_converter`` (:class:`_ConverterNames`), and a
    module that registers it again replaces it.
    """

    @staticmethod
    def _registered() -> _ConverterNames | None:
        converters = sys.modules.get("django.urls.converters")
        found = getattr(converters, "REGISTERED_CONVERTERS", None)
        if converters is not None and isinstance(found, dict):
            if not isinstance(found, _ConverterNames):
                found = _ConverterNames(found)
                setattr(converters, "REGISTERED_CONVERTERS", found)  # noqa: B010 (a module: untyped)
            return found
        return None

    def snapshot(self) -> Callable[[], None]:
        registered = self._registered()
        saved = dict(registered or {})
        if registered is not None:
            registered.reloading = True

        def restore() -> None:
            if registered is not None:
                registered.clear()
                registered.update(saved)

        return restore

    def forget(self, modules: frozenset[str]) -> None:
        """Nothing to take out (see the class)."""

    def end(self) -> None:
        registered = self._registered()
        if registered is not None:
            registered.reloading = False


class _ConverterNames(dict[str, Any]):
    """Django's ``REGISTERED_CONVERTERS``, whose names look unregistered during a reload.

    ``register_converter`` asks ``name in REGISTERED_CONVERTERS`` only to warn
    about (or refuse) a second registration; ``get_converters`` reads the
    items, which are always all there.
    """

    reloading = False

    def __contains__(self, name: object) -> bool:
        return not self.reloading and super().__contains__(name)


# Caches: what Django computed from the old modules, cleared after a reload.


def _clear_url_caches() -> None:
    """URL resolvers (``get_resolver`` and friends are ``lru_cache``d), converters, the urlconf."""
    urls = sys.modules["django.urls"]
    urls.clear_url_caches()
    urls.set_urlconf(None)
    for module, function in (
        ("django.urls.converters", "get_converters"),
        ("django.urls.resolvers", "_route_to_regex"),  # cached from Django 5.1
    ):
        cached = getattr(sys.modules.get(module), function, None)
        if callable(getattr(cached, "cache_clear", None)):
            cached.cache_clear()  # type: ignore[union-attr]


def _django_backends() -> list[Any]:
    """Every DjangoTemplates backend: the configured engines and the form renderer's."""
    backends = sys.modules.get("django.template.backends.django")
    if backends is None:
        return []
    found = [
        b
        for b in sys.modules["django.template"].engines.all()
        if isinstance(b, backends.DjangoTemplates)
    ]
    renderers = sys.modules.get("django.forms.renderers")
    if renderers is not None:
        # Only a renderer engine already made: making one costs a library scan.
        engine = vars(renderers.get_default_renderer()).get("engine")
        if isinstance(engine, backends.DjangoTemplates):
            found.append(engine)
    return found


def _is_tag_library(module: str) -> bool:
    return ".templatetags." in f".{module}."


def _refresh_templates(touched: frozenset[str]) -> None:
    """Context processors looked up again; tag libraries and compiled templates if they changed.

    A compiled template holds the tag and filter functions of the libraries it
    loaded, so it is dropped when a library module is reloaded, and only then.
    """
    for backend in _django_backends():
        engine = backend.engine
        engine.__dict__.pop("template_context_processors", None)  # a cached_property
        rediscover = any(_is_tag_library(name) for name in touched)  # added, deleted, edited
        libraries = {*engine.libraries.values(), *engine.builtins}
        if not rediscover and not libraries & touched:
            continue
        try:
            if rediscover:
                engine.libraries = backend.get_templatetag_libraries(_custom_libraries(backend))
            engine.template_libraries = engine.get_template_libraries(engine.libraries)
            engine.template_builtins = engine.get_template_builtins(engine.builtins)
        except Exception as error:  # a new library's own code failed: anything it raised
            logger.error("template libraries: %s; templates will fail until fixed", describe(error))
            _forget_engines()  # made again at the next render, which shows the error
            return
        for loader in engine.template_loaders:
            loader.reset()


def _custom_libraries(backend: Any) -> dict[str, str]:
    """The ``OPTIONS["libraries"]`` a configured backend was given (none for the renderer's)."""
    configs = sys.modules["django.template"].engines.templates
    options = configs.get(backend.name, {}).get("OPTIONS", {})
    libraries: dict[str, str] = options.get("libraries", {})
    return libraries


def _forget_engines() -> None:
    template = sys.modules["django.template"]
    template.engines._engines.clear()
    template.Engine.get_default.cache_clear()
    renderers = sys.modules.get("django.forms.renderers")
    if renderers is not None:
        renderers.get_default_renderer.cache_clear()


class _TemplateFreshness:
    """At each request, templates whose files changed are dropped from the cached loaders.

    A template is not a module: no reload happens when one is edited, and
    Django's own template reloading listens to runserver's autoreloader, which
    does not run here; the cached loader is on also with ``DEBUG``. So each
    cached loader's cache notes the file of every template it stores
    (:class:`_RecordingCache`), and as each request starts the files are
    compared with what they were then; templates remembered as missing are
    looked up again (a new file).
    """

    UID = "staticreload-template-freshness"

    def connect(self) -> None:
        signals = sys.modules["django.core.signals"]
        signals.request_started.connect(self.check, weak=False, dispatch_uid=self.UID)

    def disconnect(self) -> None:
        signals = sys.modules["django.core.signals"]
        signals.request_started.disconnect(dispatch_uid=self.UID)

    def check(self, **kwargs: object) -> None:
        """``request_started`` receiver: drop every compiled template if one file changed."""
        stale = False
        loaders = [loader for b in _django_backends() for loader in b.engine.template_loaders]
        for loader in loaders:
            cache = getattr(loader, "get_template_cache", None)
            if isinstance(cache, dict):
                if not isinstance(cache, _RecordingCache):
                    cache = loader.get_template_cache = _RecordingCache(cache)
                stale = cache.changed() or stale
        if stale:
            for loader in loaders:
                loader.reset()
            logger.debug("templates changed: compiled templates dropped")


class _RecordingCache(dict[Any, Any]):
    """A cached loader's template cache that notes each template's file as it is stored.

    The file is read a moment before the template is stored. As git does for
    "racily clean" files, a file modified less than :data:`_RACY_NS` before
    it is noted may have changed after it was read: it counts as changed.
    Templates already cached when this cache took over count as changed too.
    """

    def __init__(self, entries: dict[Any, Any]) -> None:
        super().__init__(entries)
        self.files: dict[str, tuple[int, int, int] | None] = {}
        self.racy = {path for t in entries.values() if (path := _template_file(t)) is not None}

    def __setitem__(self, key: Any, template: Any) -> None:
        super().__setitem__(key, template)
        path = _template_file(template)
        if path is not None:
            signature = self.files[path] = _signature(path)
            if signature is not None and signature[0] >= time.time_ns() - _RACY_NS:
                self.racy.add(path)

    def clear(self) -> None:
        super().clear()
        self.files.clear()
        self.racy.clear()

    def changed(self) -> bool:
        """Whether a template's file changed since it was stored (missing ones are forgotten)."""
        changed = False
        for key, template in list(self.items()):
            path = _template_file(template)
            if path is None:  # TemplateDoesNotExist remembered (DEBUG): look again
                self.pop(key, None)
            elif path in self.racy or self.files.get(path) != _signature(path):
                changed = True
        return changed


def _template_file(template: object) -> str | None:
    """The file a cached template came from, or None for a template remembered as missing."""
    origin = getattr(template, "origin", None)
    return None if origin is None else str(origin.name)


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # no file (a template from a string), or unreadable
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


# Set-up helpers.


def _decline_model_modules(reloader: Reloader) -> None:
    """Mark every project module that defines a model ``__staticreload_decline__``.

    The patterns catch ``models.py`` and ``models/``; this catches models
    defined anywhere else, which the app registry refuses just the same.
    """
    apps = sys.modules["django.apps"].apps
    if not apps.ready:
        return
    for model in apps.get_models(include_auto_created=True):
        name = model.__module__
        module = sys.modules.get(name)
        if module is None or name not in reloader.map or _matches(reloader, name):
            continue
        setattr(module, DECLINE_FLAG, True)


def _matches(reloader: Reloader, module: str) -> bool:
    shown, path = reloader.map.display_path(module), os.fspath(reloader.map.path_of(module))
    return any(fnmatch.fnmatch(shown, p) or fnmatch.fnmatch(path, p) for p in reloader.restart_on)


def _autodiscovered_before_urlconf(reloader: Reloader) -> None:
    """Make the root URLconf depend on every app's ``admin`` module.

    ``admin.autodiscover()`` imports them (no import a scan sees), and
    ``admin.site.urls`` in the URLconf builds the admin's URL patterns from the
    registrations at the time the URLconf runs: an edited ``admin.py`` is only
    served once the URLconf runs again.
    """
    urlconf = str(getattr(sys.modules["django.conf"].settings, "ROOT_URLCONF", ""))
    if urlconf not in reloader.map:
        return
    for app_config in sys.modules["django.apps"].apps.get_app_configs():
        admin = f"{app_config.name}.admin"
        if admin in reloader.map:
            reloader.map.add_runtime_import(urlconf, admin)


def _included_urlconfs(reloader: Reloader) -> None:
    """Make each loaded URLconf depend on the URLconfs it includes.

    ``include("blog.urls")`` imports by name (no import a scan sees) and keeps
    the module object: unless the including URLconf runs again, it serves the
    old ``blog.urls`` and its old views. The import recorder sees such imports
    only if they happen after it is installed, and only the first time; a
    project set up before (``manage.py``'s checks import the URLconf) has none.
    """
    settings = sys.modules["django.conf"].settings
    root = str(getattr(settings, "ROOT_URLCONF", ""))
    module, resolvers = sys.modules.get(root), sys.modules.get("django.urls.resolvers")
    if module is None or resolvers is None:
        return  # not loaded yet: the recorder sees its first run
    pending: list[tuple[str, object]] = [(root, getattr(module, "urlpatterns", ()))]
    seen = {root}
    while pending:
        parent, patterns = pending.pop()
        if not isinstance(patterns, (list, tuple)):
            continue
        for pattern in patterns:
            if not isinstance(pattern, resolvers.URLResolver):
                continue
            included = pattern.urlconf_name
            if not isinstance(included, ModuleType):  # a list: admin.site.urls, include([...])
                pending.append((parent, included))
                continue
            reloader.map.add_runtime_import(parent, included.__name__)
            if included.__name__ not in seen:
                seen.add(included.__name__)
                pending.append((included.__name__, getattr(included, "urlpatterns", ())))


def _settings(settings_module: str | None) -> Any:
    """Django's settings, loaded (``$DJANGO_SETTINGS_MODULE`` set from ``settings_module``).

    Raises:
        AppLoadError: the settings module cannot be imported or is not configured.
    """
    try:
        settings = importlib.import_module("django.conf").settings
        if not settings.configured and settings_module:
            os.environ.setdefault(SETTINGS_ENV, settings_module)
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings module)
    except Exception as error:  # the settings module is project code: anything
        name = settings_module or os.environ.get(SETTINGS_ENV) or "Django settings"
        raise AppLoadError(name, describe(error)) from error
    return settings


def _app_names() -> list[str]:
    """The installed apps' module names, if the app registry is ready (AppConfig paths resolved)."""
    apps_module = sys.modules.get("django.apps")
    if apps_module is None or not apps_module.apps.ready:
        return []
    return [config.name for config in apps_module.apps.get_app_configs()]


def _location(top: str) -> Path | None:
    """The folder of a top-level package (or the file of a loose module), without importing it."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations and spec.origin in (None, "namespace"):
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    if spec.origin is None or not spec.has_location:
        return None
    origin = Path(spec.origin).resolve()
    return origin.parent if spec.submodule_search_locations is not None else origin


def _import_root(module: str) -> Path | None:
    """The folder a module's top-level package is imported from."""
    location = _location(module.partition(".")[0])
    return None if location is None else location.parent


def _source_of(module: str) -> Path | None:
    """The source file of a module, found without importing it or its packages."""
    parts = module.split(".")
    search: Iterable[str] | None = None
    spec = None
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        try:
            if depth == 1:
                spec = importlib.util.find_spec(name)
            else:
                spec = importlib.machinery.PathFinder.find_spec(name, list(search or ()))
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        search = spec.submodule_search_locations
        if depth < len(parts) and search is None:
            return None
    if spec is None or not spec.has_location or not (spec.origin or "").endswith(".py"):
        return None
    return Path(str(spec.origin)).resolve()


def _settings_named_in(source: bytes, path: Path | None) -> str | None:
    """``"x"`` from ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")`` (or
    ``os.environ["DJANGO_SETTINGS_MODULE"] = "x"``) in a module's source, or None."""
    if SETTINGS_ENV.encode() not in source:
        return None
    try:
        tree = ast.parse(source, str(path))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            pair = node.args[:2] if node.func.attr == "setdefault" else []
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            pair = [node.targets[0].slice, node.value]
        else:
            continue
        strings = [
            n.value for n in pair if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        if len(strings) == 2 and strings[0] == SETTINGS_ENV and strings[1]:
            return strings[1]
    return None


def project_options(
    module: str, given: Sequence[str] | None, restart_on: Sequence[str]
) -> tuple[list[str] | None, list[str]]:
    """What to watch and what restarts, for an application module of a Django project.

    For a module that is not a Django project's, the options come back as
    they were. Nothing of the project is imported.

    Args:
        module: the application's module (``mysite.wsgi``).
        given: the folders or packages given (None: default).
        restart_on: the restart patterns given.

    Returns:
        ``(targets, restart_on)``: the project's apps when no targets were
        given, and the restart patterns plus Django's.
    """
    settings_module = settings_module_for(module)
    chosen = list(given) if given else None
    if settings_module is None:
        return chosen, list(restart_on)
    chosen = chosen or targets(settings_module=settings_module)
    patterns = restart_patterns(settings_module=settings_module)
    return chosen, list(dict.fromkeys([*restart_on, *patterns]))
