"""The payment description: the line the customer reads in the app, and that the card, the
portal and the receipt show for the request.

It is written once, when the request is created, in the customer's language: invoice numbers
and the earliest due date (as the language writes dates). The provider takes 3 to 100
characters (docs/vipps.md#creating-a-payment); a list of numbers too long for that becomes a
count ("3 invoices, first due ...").
"""

from __future__ import annotations

from collections.abc import Sequence

from payrequest import i18n
from payrequest.errors import N_
from payrequest.invoices.models import Invoice

MAX_LENGTH = 100
ELLIPSIS = "…"

# (one invoice, several, several counted) for a request of everything open, and for a part.
WHOLE = (
    N_("Invoice %(number)s, due %(due)s"),
    N_("Invoices %(numbers)s, first due %(due)s"),
    N_("%(count)s invoices, first due %(due)s"),
)
PART = (
    N_("Part payment of invoice %(number)s, due %(due)s"),
    N_("Part payment of invoices %(numbers)s, first due %(due)s"),
    N_("Part payment of %(count)s invoices, first due %(due)s"),
)


def describe(invoices: Sequence[Invoice], *, language: str, part: bool = False) -> str:
    """`Faktura 10023, forfall 1. feb. 2027` for the customer whose language is `nb`.

    `part`: the request asks for less than is open on the invoices (an instalment).
    """
    one, several, counted = PART if part else WHOLE
    due = i18n.day(language, min(i.due_date for i in invoices))
    if len(invoices) == 1:
        text = i18n.render(language, one, {"number": invoices[0].number, "due": due})
    else:
        numbers = ", ".join(i.number for i in invoices)
        text = i18n.render(language, several, {"numbers": numbers, "due": due})
        if len(text) > MAX_LENGTH:
            text = i18n.render(language, counted, {"count": len(invoices), "due": due})
    if len(text) > MAX_LENGTH:  # only with absurdly long invoice numbers
        text = text[: MAX_LENGTH - len(ELLIPSIS)] + ELLIPSIS
    return text
