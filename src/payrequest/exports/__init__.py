"""Exports for the business's own systems: the payments and allocations of a period as CSV
for the accounting (docs/csv.md says what each column holds)."""
