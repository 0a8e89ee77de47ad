"""The REST API under `/api/v1` (docs/api.md): a FastAPI app of its own (web.api.app), its
routes `ApiRoute`s (web.api.route) that identify the caller by API key and act for its
organisation, handlers that parse, call one command and render a public object
(payrequest.public)."""
