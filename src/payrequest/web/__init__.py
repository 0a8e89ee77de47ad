"""HTTP entry points: pages, API, webhooks, health."""
