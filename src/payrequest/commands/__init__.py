"""The command layer: each operation staff, customers, the command line and the REST API start
(create and send a payment request, cancel, retry, refund, record a manual payment, apply
credit, create or change an invoice or a customer) is one function here, called the same way by
every entry point.

A command takes plain typed input and the `Runtime`, opens its own transactions, calls the
provider only after its commit (a job does it if that call fails or the process dies), and
returns a typed result for the caller to render. Errors are the domain's (`payrequest.errors`):
the caller shows them in its reader's language. Entry points parse, call one command, render.
"""
