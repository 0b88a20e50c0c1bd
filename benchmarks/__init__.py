"""staticreload's benchmarks: run ``python -m benchmarks.run`` (``--quick`` for a smoke test)."""
