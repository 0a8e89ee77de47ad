"""Payment providers behind one neutral interface (`base.PaymentProvider`).

Provider packages translate between a provider's wire format and the neutral dataclasses; they
never touch the database or the domain packages.
"""
