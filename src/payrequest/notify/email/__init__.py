"""Email delivery over SMTP."""

from payrequest.notify.email.smtp import EmailError, EmailReceipt, EmailSender, message_id_for

__all__ = ["EmailError", "EmailReceipt", "EmailSender", "message_id_for"]
