"""Scripts of the transport feasibility study (issue 28): see benchmarks/results/2026-12-07-transport-study.md."""
