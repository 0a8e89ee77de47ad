"""Vipps MobilePay ePayment, Webhooks, Userinfo and Access Token APIs (rules: docs/vipps.md)."""
