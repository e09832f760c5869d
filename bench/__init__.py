"""loanflow's benchmark harness: ``python -m bench.run`` (``make bench``); see docs/benchmarks.md."""
