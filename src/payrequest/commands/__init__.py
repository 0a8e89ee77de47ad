"""The command layer: the operations staff, customers, the command line and the REST API start
(create and send a payment request, cancel, retry, refund, record a manual payment, apply
credit, invoice upsert and void, ...) are functions here, one module per domain, called the
same way by every entry point. Entry points parse, call one command, render. Placed just below
the entry points in the layers contract (pyproject.toml), above every domain package.

Two kinds, by whether a provider is called:

- A command that calls a provider (`payment_requests`, `portal`, `links`) takes the `Runtime`
  and owns its transactions: it writes and commits, then calls the provider with no lock held
  (a job does it if that call fails or the process dies), applies the answer in a
  transaction of its own, and wakes this process's worker (`Runtime.wake`). The caller must
  not hold a writing session meanwhile.
- A command that only writes the database (`ledger`, `invoices`) takes the caller's session
  and never commits: the caller's one transaction (a page's request, an API request, a batch
  of an import) holds it.

Either returns a typed result for the caller to render; errors are the domain's
(`payrequest.errors`), shown in the reader's language by the caller.
"""
