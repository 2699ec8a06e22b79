"""Start the test identity provider (provider.mjs, node-oidc-provider) on loopback."""

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "provider.mjs"
CLIENT_ID = "backoffice"
CLIENT_SECRET = "backoffice-test-secret"
PASSWORD = "demo-password"
# The demo people's groups, mapped to the back office's roles as OIDC_ROLE_MAP says.
ROLE_MAP = "cs-agents=Customer service,cs-supervisors=Supervisor,cs-admins=Administrator"


class ProviderNotInstalled(RuntimeError):
    """Node.js or the provider's npm packages are missing (`make test` installs them)."""


@dataclass
class IdentityProvider:
    """A running provider.mjs: its issuer URL and its test controls."""

    process: subprocess.Popen
    issuer: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    log: list[str] = field(default_factory=list)

    def control(self, method: str, path: str, data: dict) -> dict:
        request = urllib.request.Request(
            f"{self.issuer}/_test/{path}",
            data=json.dumps(data).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def set_user(self, user_id: str, **changes: object) -> dict:
        """Change a person at the provider: their groups, or whether they are active."""
        return self.control("PUT", f"users/{user_id}", changes)

    def tamper_next_id_token(self, **change: object) -> None:
        """Alter the next ID token the provider sends (see provider.mjs, /_test/tamper)."""
        self.control("POST", "tamper", change)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start(
    *,
    redirect_uri: str,
    backchannel_logout_uri: str = "",
    port: int = 0,
    password: str = PASSWORD,
    test_controls: bool = True,
) -> IdentityProvider:
    """Start provider.mjs and wait until it listens; raise ProviderNotInstalled without Node."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise ProviderNotInstalled(
            "The test identity provider needs Node.js 20+ and its packages: "
            "`make test` installs them (cd tests/oidc && npm ci)."
        )
    command = [node, str(SCRIPT), "--port", str(port), "--redirect-uri", redirect_uri,
               "--password", password]  # fmt: skip
    if backchannel_logout_uri:
        command += ["--backchannel-logout-uri", backchannel_logout_uri]
    if test_controls:
        command.append("--test-controls")
    # Its warnings and errors (a failed back-channel logout, ...) go to a file named in `log`.
    log_fd, log_path = tempfile.mkstemp(prefix="oidc-provider-", suffix=".log")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_fd, text=True, cwd=HERE)
    os.close(log_fd)  # the provider holds its own copy
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("listening "):
        process.kill()
        raise ProviderNotInstalled(f"The test identity provider did not start: {line!r}")
    return IdentityProvider(process=process, issuer=line.split(" ", 1)[1], log=[log_path])
