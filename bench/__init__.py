"""Benchmarks: `python -m bench <name>`. Each prints its numbers and appends them to
docs/benchmarks.md with the machine, the date and the command. Not tests: they measure."""
