"""Staff users: accounts, roles and passwords."""
