"""A job table runner: due jobs claimed under a lease, retried with backoff, dead letters."""
