"""payment requests domain."""
