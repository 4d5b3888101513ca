"""stashd's benchmark: ``make bench`` (``python -m bench``); see docs/benchmarks.md."""
