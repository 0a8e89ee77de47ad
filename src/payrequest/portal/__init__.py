"""Customer portal access: single-use, expiring magic links, stored only as hashes."""
