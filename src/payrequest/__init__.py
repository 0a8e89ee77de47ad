"""payrequest: send a MobilePay payment request, the customer approves, the invoice is paid."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("payrequest")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
