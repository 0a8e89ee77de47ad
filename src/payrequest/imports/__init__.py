"""Imports of customers and invoices from CSV files (docs/csv.md)."""
