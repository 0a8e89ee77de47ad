"""The installation's tenants: businesses signing themselves up, and the operator's view of
every organisation."""
