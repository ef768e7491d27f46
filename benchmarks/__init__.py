"""Reproducible benchmarks: `python -m benchmarks <name>` runs benchmarks/<name>.py (its `main(argv)`)."""
