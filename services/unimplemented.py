"""Servicers for RPCs that the contract declares but no release implements yet.

Each answers UNIMPLEMENTED (HTTP 501 through Envoy) with a message naming the RPC: never fake data.
Authentication and role checks still apply (the interceptor runs first).
"""

from __future__ import annotations

from nija.core.errors import NotImplementedYet


def unimplemented_servicer(servicer_base: type, service_full_name: str, *, owner: str) -> object:
    """Instantiate a subclass of the generated ``servicer_base`` whose every method raises
    :class:`NotImplementedYet`."""

    def make(method_name: str):
        async def method(self, request, context):
            raise NotImplementedYet(f"{service_full_name}.{method_name} is not implemented yet ({owner})")

        method.__name__ = method_name
        return method

    methods = {
        name: make(name)
        for name, value in vars(servicer_base).items()
        if callable(value) and not name.startswith("_")
    }
    cls = type(f"Unimplemented{servicer_base.__name__}", (servicer_base,), methods)
    return cls()
