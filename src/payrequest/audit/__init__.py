"""Who did what: sign-ins, sends, cancels, refunds and edits, for the owners to read."""
