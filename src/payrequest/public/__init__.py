"""The objects the outside world sees: the REST API's resources and the outgoing webhooks'
event data, one module per object, each with a builder from the domain's rows and read
models. Conventions (docs/api.md): amounts in integer minor units beside an ISO currency,
timestamps RFC 3339 in UTC (`2026-12-01T09:30:00Z`), ids opaque strings with a type prefix
(`ids.public_id`)."""
