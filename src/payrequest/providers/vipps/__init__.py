"""Vipps MobilePay ePayment, Webhooks and Access Token APIs (rules: docs/vipps.md)."""
