"""Compiled back-end of :mod:`torchreid.metrics.rank` (built by ``setup.py build_ext``; optional at run time)."""
