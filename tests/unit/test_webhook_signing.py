"""Standard Webhooks signatures as the reference library (`standardwebhooks`) verifies them:
its published test vector, several secrets during a rotation, the 5-minute tolerance."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payrequest.notify.webhook import signing

BODY = b'{"id":"evt_1","type":"invoice.paid","data":{"object":{"amount":12500}}}'


def test_the_reference_test_vector() -> None:
    # The vector of the Standard Webhooks reference libraries' test suites.
    signature = signing.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_24_random_bytes_the_library_reads() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and secret != signing.new_secret()
    now = int(time.time())
    headers = signing.headers(secret, msg_id="evt_9", timestamp=now, body=BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "invoice.paid"


def test_during_a_rotation_both_secrets_sign_and_each_verifies() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], msg_id="evt_2", timestamp=int(time.time()), body=BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY + b" ", headers)


@pytest.mark.parametrize("off_by", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(off_by: int) -> None:
    secret = signing.new_secret()
    headers = signing.headers(
        secret, msg_id="evt_3", timestamp=int(time.time()) + off_by, body=BODY
    )
    with pytest.raises(WebhookVerificationError, match=r"too (old|new)"):
        Webhook(secret).verify(BODY, headers)


def test_no_secret_signs_nothing() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signing.headers([], msg_id="evt_4", timestamp=1, body=BODY)
