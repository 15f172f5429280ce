"""The benchmarks, one module per figure (``python -m bench`` runs them in ``bench.runner.BENCHMARKS`` order)."""
