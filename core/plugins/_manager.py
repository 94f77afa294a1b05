from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from nija.core.plugins import hookspecs

log = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("nija")

ENTRY_POINT_GROUPS = {"broker": "nija.brokers", "strategy": "nija.strategies"}


@dataclass(frozen=True)
class PluginInfo:
    kind: str  # "broker" | "strategy"
    name: str
    version: str
    distribution: str
    cls: type


class PluginManager:
    """Discovers plugin modules through entry points and collects what they register.

    ``NIJA_LOAD_PLUGINS`` (comma-separated entry-point names) limits what is loaded;
    ``NIJA_TRACE_PLUGINS=1`` logs every hook call and result.
    """

    def __init__(self, *, allow: set[str] | None = None, trace: bool | None = None) -> None:
        self._pm = pluggy.PluginManager("nija")
        self._pm.add_hookspecs(hookspecs)
        env_allow = os.environ.get("NIJA_LOAD_PLUGINS")
        self.allow = allow if allow is not None else (
            {n.strip() for n in env_allow.split(",") if n.strip()} if env_allow else None
        )
        self._dists: dict[str, tuple[str, str]] = {}
        self._trace = trace if trace is not None else os.environ.get("NIJA_TRACE_PLUGINS") == "1"
        if self._trace:
            self._pm.trace.root.setwriter(lambda msg: log.info("plugin trace: %s", msg.rstrip()))
            self._pm.enable_tracing()

    def load_entry_points(self) -> "PluginManager":
        for kind, group in ENTRY_POINT_GROUPS.items():
            for ep in entry_points(group=group):
                if self.allow is not None and ep.name not in self.allow:
                    log.info("plugin %s (%s) skipped: not in NIJA_LOAD_PLUGINS", ep.name, group)
                    continue
                if self._pm.has_plugin(ep.name):
                    continue
                try:
                    module = ep.load()
                except Exception:  # a broken third-party package must not take the platform down
                    log.exception("plugin %s (%s) failed to import; skipped", ep.name, group)
                    continue
                self._pm.register(module, name=ep.name)
                dist = ep.dist
                self._dists[ep.name] = (dist.name if dist else "?", dist.version if dist else "?")
                log.info("loaded %s plugin %s from %s", kind, ep.name, self._dists[ep.name][0])
        return self

    def register(self, plugin: object, name: str, distribution: tuple[str, str] = ("local", "0")) -> None:
        """Register an in-process plugin object (tests, embedding)."""
        self._pm.register(plugin, name=name)
        self._dists[name] = distribution

    def _collect(self, kind: str, hook) -> list[PluginInfo]:
        found: list[PluginInfo] = []
        for impl in hook.get_hookimpls():
            try:
                classes = impl.function() or []
                # _collect calls each implementation itself (to isolate a crashing one), which
                # bypasses pluggy's hook-call tracing, so trace here.
                if self._trace:
                    log.info("plugin trace: %s.%s() -> %r", impl.plugin_name, hook.name, classes)
            except Exception:
                log.exception("plugin %s: %s raised; its classes are skipped", impl.plugin_name, hook.name)
                continue
            dist, version = self._dists.get(impl.plugin_name, ("?", "?"))
            for cls in classes:
                found.append(PluginInfo(kind, getattr(cls, "name", cls.__name__), version, dist, cls))
        return found

    def brokers(self) -> list[PluginInfo]:
        return self._collect("broker", self._pm.hook.register_brokers)

    def strategies(self) -> list[PluginInfo]:
        return self._collect("strategy", self._pm.hook.register_strategies)

    def all(self) -> list[PluginInfo]:
        return sorted(self.brokers() + self.strategies(), key=lambda p: (p.kind, p.name))
