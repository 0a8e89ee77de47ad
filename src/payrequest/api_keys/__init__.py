"""An organisation's keys for the REST API, and what the API answered to idempotent POSTs."""
