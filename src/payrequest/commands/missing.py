"""The one error that is about a command's subject rather than its input."""

from __future__ import annotations

from payrequest.errors import NotFound


class Missing(NotFound):
    """The row a command is about (the customer, invoice or payment request its caller names,
    as in a URL) does not exist or is another business's. Callers answer "not found" for the
    whole call (an error page, an API's 404), unlike a missing row among the input (a chosen
    invoice), which is an error in what was typed."""
