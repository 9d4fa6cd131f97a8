"""MAPPO baseline: ``config`` (torch-free section, presets, registration) and ``agent``."""
