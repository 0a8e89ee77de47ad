from payrequest.kit.urls import PublicUrls


def test_public_urls_sit_under_the_public_base() -> None:
    urls = PublicUrls("https://pay.example.no/", signing_key="k" * 32)
    assert urls.webhook("vipps") == "https://pay.example.no/webhooks/vipps"
    assert urls.portal_link("t0k") == "https://pay.example.no/portal/link/t0k"
    assert urls.receipt("inv-1").startswith("https://pay.example.no/receipts/inv-1.")
    assert urls.portal_returned() == "https://pay.example.no/portal/returned"
    assert urls.sandbox() == "https://pay.example.no/sandbox/vipps"
