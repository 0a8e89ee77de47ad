"""Pure helpers with no I/O: money, phone numbers, clocks, ids."""
