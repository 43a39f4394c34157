"""Benchmarks and the retrieval evaluation (not part of the app): `python -m bench eval|speed`."""
