"""Raw provider webhooks: stored once (deduplicated), then applied."""
