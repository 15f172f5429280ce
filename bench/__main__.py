"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, write JSON and docs/PERFORMANCE.md."""
from bench.runner import main

raise SystemExit(main())
