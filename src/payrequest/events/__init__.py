"""Domain events and the transactional outbox."""
