"""Bench-only app: the reference view of bench/api.py (enabled only by bench.settings)."""
