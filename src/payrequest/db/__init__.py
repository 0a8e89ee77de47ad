"""Database plumbing: declarative base, column types, engine and sessions, and the wake-up of
other processes at commit (PostgreSQL LISTEN/NOTIFY, `pg_notify`)."""
