"""The Vipps MobilePay emulator ("sandbox"): a stand-in for the real API with a phone simulator.

It plays the other side of `payrequest.providers.vipps` and shares no code with it beyond
`payrequest.kit`. See `app.create_sandbox_app`, `config.SandboxConfig` (default credentials
there; several sales units and partner keys: `extra_units`, `partners`, `with_test_units()`;
automatic test units: `auto_units`, `config.auto_unit`),
`phone` (phone pages and the SMS inbox API) and `api_control` (fault switches, units).

Mounting inside another FastAPI app (the mounted app's lifespan does not run)::

    from payrequest.sandbox import SandboxConfig, create_sandbox_app, sandbox_of_app

    sandbox_app = create_sandbox_app(SandboxConfig(state_path=Path("var/sandbox.db")))
    app.mount("/sandbox/vipps", sandbox_app)
    # in the parent's lifespan:
    await sandbox_of_app(sandbox_app).start()
    ...
    await sandbox_of_app(sandbox_app).stop()
"""

from payrequest.sandbox.app import create_sandbox_app, sandbox_of_app
from payrequest.sandbox.config import SandboxConfig
from payrequest.sandbox.emulator import Sandbox
from payrequest.sandbox.faults import Faults

__all__ = ["Faults", "Sandbox", "SandboxConfig", "create_sandbox_app", "sandbox_of_app"]
