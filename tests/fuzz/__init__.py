"""Fuzzing helpers: the wire contract both fuzzers check, and the atheris target (run by hand:
pytest collects nothing here)."""
