"""Algorithms, one package each: ``<name>/config.py`` (torch-free: the typed config section, per-env defaults,
presets and the ``AlgorithmSpec`` named in ``marie.registry.BUILTIN``) beside ``<name>/agent.py`` (the ``Agent``).

Adding one (e.g. ``mamba``) needs only its package and one ``BUILTIN`` line; see docs/architecture.md.
Importing this package imports nothing (the config loads an algorithm's ``config`` module by name).
"""
