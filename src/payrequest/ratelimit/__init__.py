"""Sliding-window limits kept in the database, so every process counts the same hits."""
