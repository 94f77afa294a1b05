"""``nija.platform.v1.PlatformService``: readiness and the plugin catalogue."""

from __future__ import annotations

import asyncio
import logging

from nija.core.errors import Unavailable
from nija.core.strategies import describe_parameters
from nija.platform.v1 import platform_pb2, platform_pb2_grpc

log = logging.getLogger(__name__)


class PlatformServicer(platform_pb2_grpc.PlatformServiceServicer):
    def __init__(self, platform) -> None:
        self.platform = platform

    async def Healthz(self, request, context):
        components = await self.platform.check_health()
        if any(state != "ok" for state in components.values()):
            broken = ", ".join(f"{name}: {state}" for name, state in sorted(components.items()) if state != "ok")
            raise Unavailable(f"not ready ({broken})")
        return platform_pb2.HealthzResponse(status="ok", components=components)

    async def ListPlugins(self, request, context):
        plugins = await asyncio.to_thread(self.platform.plugins.all)
        return platform_pb2.ListPluginsResponse(
            plugins=[
                platform_pb2.PluginInfo(kind=p.kind, name=p.name, version=p.version, distribution=p.distribution,
                                        parameters=[_parameter(spec) for spec in describe_parameters(p.cls)])
                for p in plugins
            ]
        )


def _text(value) -> str:
    # Proto carries parameter values as strings; JSON spelling keeps bools "true"/"false".
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _parameter(spec: dict) -> platform_pb2.PluginParameter:
    description = spec.get("description", "")
    if "choices" in spec:
        description = f"{description} (one of: {', '.join(spec['choices'])})".strip()
    return platform_pb2.PluginParameter(
        name=spec["name"], type=spec["type"], default=_text(spec["default"]),
        minimum=_text(spec.get("minimum")), maximum=_text(spec.get("maximum")), description=description)
