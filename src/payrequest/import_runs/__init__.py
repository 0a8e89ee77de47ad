"""The record of each import the worker runs (payrequest.imports runs them)."""
