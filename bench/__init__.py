"""Benchmarks of the OVDiff engine and service on this machine (``python -m bench``); one module per figure."""
