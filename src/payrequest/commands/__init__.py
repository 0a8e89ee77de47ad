"""Commands that need more than one domain package: the one place admin, portal, CLI and API
call for such an operation (each module: one domain's commands). Placed just below the entry
points in the layers contract (pyproject.toml), above every domain package."""
