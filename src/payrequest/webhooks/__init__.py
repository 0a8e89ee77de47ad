"""Outgoing webhooks (docs/webhooks.md): an organisation's endpoints (`endpoints`), the public
events (public.event_types) built from the outbox (`fanout`, `objects`), their delivery with
retries, order and the log (`delivery`, `schedule`, `jobs`), resending and test events
(`manual`), the owners' email when an endpoint is switched off (`mail`), and what Settings and
the API read (`read`, `public`)."""
