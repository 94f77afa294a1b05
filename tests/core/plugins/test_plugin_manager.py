"""Plugin discovery through entry points, the allowlist, and in-process registration."""

from __future__ import annotations

from nija.core.plugins import Broker, PluginManager, hookimpl
from nija.core.plugins import hookspecs


def test_paper_broker_is_found_through_its_entry_point():
    plugins = PluginManager(allow=None).load_entry_points().brokers()
    paper = [p for p in plugins if p.name == "paper"]
    assert len(paper) == 1
    assert paper[0].distribution == "nija-broker-paper"
    assert issubclass(paper[0].cls, Broker)
    assert paper[0].cls.__module__.startswith("nija_broker_paper")


def test_allowlist_limits_what_is_loaded(monkeypatch):
    monkeypatch.setenv("NIJA_LOAD_PLUGINS", "something-else")
    assert PluginManager().load_entry_points().brokers() == []
    monkeypatch.setenv("NIJA_LOAD_PLUGINS", "paper")
    assert [p.name for p in PluginManager().load_entry_points().brokers()] == ["paper"]


def test_in_process_plugin_and_a_crashing_one():
    class LocalBroker(Broker):
        name = "local"

    class Good:
        @hookimpl
        def register_brokers(self):
            return [LocalBroker]

    class Crashing:
        @hookimpl
        def register_brokers(self):
            raise RuntimeError("plugin bug")

    pm = PluginManager(allow=set())
    pm.register(Good(), "good")
    pm.register(Crashing(), "crashing")
    assert [p.name for p in pm.brokers()] == ["local"]


def test_every_hook_is_documented():
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks
    for name in hooks:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Returns" in doc and "firstresult" in doc, f"{name} lacks a full docstring"


def test_every_hook_is_in_docs_plugins_md():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "plugins.md").read_text()
    # Every function pluggy's HookspecMarker("nija") marked, whatever its name.
    hooks = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "nija_spec")]
    assert {"register_brokers", "register_strategies"} <= set(hooks)
    for name in hooks:
        assert f"### {name}" in doc, f"docs/plugins.md has no section for the {name} hook"
