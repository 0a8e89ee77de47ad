"""The contract checker for the emulator tests; it lives in tests/contract (see checker.py)."""

from __future__ import annotations

from tests.contract.checker import ContractChecker, checker

__all__ = ["ContractChecker", "checker"]
