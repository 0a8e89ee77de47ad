"""Pure helpers with no I/O: money, markets, public URLs, phone numbers, clocks, ids,
encryption of stored secrets, signed link tokens, search folding, and validation errors."""
