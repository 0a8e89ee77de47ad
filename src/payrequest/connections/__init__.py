"""Payment-provider connections: each organisation's own sales unit (credentials stored
encrypted), or its merchant serial number under the installation's partner keys."""
