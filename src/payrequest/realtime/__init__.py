"""Live updates: committed domain events (the outbox) fanned out to browsers over SSE."""
