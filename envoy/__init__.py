"""Envoy configuration: ``envoy.yaml`` (a template rendered by ``nija up``) and, under
``generated/``, the descriptor set the build makes from ``proto/`` (never edited by hand)."""
