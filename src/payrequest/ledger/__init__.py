"""Money that arrived: allocations to invoices, customer credits, balances."""
