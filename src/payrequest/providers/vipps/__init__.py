"""Vipps MobilePay ePayment, Webhooks and Access Token APIs (see shared/vipps/API-FACTS.md)."""
