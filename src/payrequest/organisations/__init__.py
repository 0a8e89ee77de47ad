"""Organisations: the businesses one installation serves, and who works for which."""
