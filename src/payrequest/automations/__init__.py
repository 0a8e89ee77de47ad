"""Automations: domain events trigger flows of actions (SMS, email, signed webhook, wait,
portal link), each action exactly once per (event, flow, action).

- `models`: flows, flow_actions, flow_runs (unique per flow and event, tests excepted),
  action_runs (unique per run and position, with the idempotency key).
- `dispatch`: the periodic dispatcher over the outbox (`dispatched_at IS NULL`, oldest first,
  `FOR UPDATE SKIP LOCKED`) that creates runs and queues their first action.
- `execution`: one job per action; the exactly-once protocol is described there. In short:
  record `sending` + the rendered message before the gateway call, pass
  `flowrun-<id>-action-<pos>` as idempotency key, commit `sent` right after, `done` with the job.
  A retry after `sent` never calls the gateway; a retry after `sending` resends the same message
  with the same key (SMS sandbox dedupes on it, email keeps its Message-ID, webhooks their
  `webhook-id`). Retries back off exponentially (the job runner); a failed action can be
  queued again by hand (`service.retry_action`).
- `jobs`: installs the dispatcher (periodic) and the action job in the worker's `JobHandlers`.
- `conditions`, `templating` (sandboxed Jinja2, checked at save time), `context` (the variables),
  `actions` (per-kind config checks and rendering), `messages` (a message's texts per language:
  the customer reads theirs, staff the default), `ready_made` (the shipped flows' names),
  `service` (admin). A webhook action goes out through notify.webhook (Standard Webhooks
  signatures, the SSRF guard, the one sender the organisations' webhook endpoints use too).
"""
