"""Benchmarks: `python -m bench.<name>`; each ends by printing one JSON line of figures."""
