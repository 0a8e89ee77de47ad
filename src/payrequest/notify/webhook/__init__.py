"""Outgoing webhooks: where one may go (`destinations`), how it is signed (`signing`, Standard
Webhooks) and the one sender that delivers it (`sender`)."""
