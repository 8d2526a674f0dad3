"""Benchmarks of the embedding explorer against named peers, measured in the same run.

``python -m bench`` runs them all and prints one table; ``python -m bench NAME ...`` runs
some; ``--quick`` uses smaller sizes for a smoke check. See ``bench/__main__.py``.
"""
