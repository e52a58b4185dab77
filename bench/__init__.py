"""Benchmarks (``make bench``): figures the issues name, measured with a baseline in the same run."""
