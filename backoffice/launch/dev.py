"""Run the whole product locally: the CDP sandbox, the app pointed at it, and the workers.

Migrates the database, creates the demo users (printing their passwords), starts the sandbox on
loopback, Django's development server and the tasks workers (one for queued edits, one for bulk
refreshes, on the backend the settings choose), and stops them all on Ctrl-C.
"""

import os
import secrets
import shutil
import subprocess
import sys

from backoffice.cdp_hosts import with_sandbox
from backoffice.launch.processes import (
    MANAGE,
    ROOT,
    sandbox_api_version,
    sandbox_flags,
    stop,
    stop_on_signals,
    supervise,
    wait_for_port,
    workers,
)
from cdp_sandbox import seed

IDENTITY_PROVIDER = ROOT / "tests" / "oidc"
SSO_DEMO_PEOPLE = {
    "ana": "Customer service",
    "sam": "Supervisor",
    "alex": "Administrator",
    "nobody": "no role (a group the back office does not map)",
}


def start_identity_provider(port: int, app_port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start the local OpenID Connect provider (tests/oidc) and return the app's OIDC_* values."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        sys.exit("SANDBOX_SSO=true needs Node.js 20+ and npm (apt-get install nodejs npm).")
    if not (IDENTITY_PROVIDER / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=IDENTITY_PROVIDER, check=True)
    password = secrets.token_urlsafe(12)
    secret = secrets.token_urlsafe(24)
    callbacks = [
        f"http://{host}:{app_port}/accounts/oidc/sso/login/callback/"
        for host in ("127.0.0.1", "localhost")
    ]
    provider = subprocess.Popen(
        [node, "provider.mjs", "--port", str(port), "--client-secret", secret,
         "--password", password, "--redirect-uri", callbacks[0], "--redirect-uri", callbacks[1],
         "--backchannel-logout-uri",
         f"http://127.0.0.1:{app_port}/accounts/oidc/backchannel-logout/"],
        cwd=IDENTITY_PROVIDER, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert provider.stdout is not None
    issuer = provider.stdout.readline().strip().removeprefix("listening ")
    if not issuer.startswith("http"):
        stop([provider])
        sys.exit("The local identity provider did not start.")
    print(f"\nSingle sign-on: the local identity provider at {issuer}, password {password} for")
    for person, role in SSO_DEMO_PEOPLE.items():
        print(f"  {person:<7} {role}")
    return provider, {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "backoffice",
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_PROVIDER_NAME": "the sandbox identity provider",
        "OIDC_ROLE_MAP": "cs-agents=Customer service,cs-supervisors=Supervisor,"
        "cs-admins=Administrator",
    }


def main() -> None:
    stop_on_signals()
    port = int(os.environ.get("PORT", "8000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "8100"))
    client_key, api_token = "sandbox-client-key", "sandbox-api-token"
    # The sandbox serves v2 and v2.1; the app speaks the one SANDBOX_API_VERSION names (v2.1).
    api_version = sandbox_api_version(dict(os.environ))
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "plain"),
        "CDP_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "CDP_CLIENT_KEY": client_key,
        "CDP_API_TOKEN": api_token,
        "CDP_API_VERSION": api_version,
        # The sandbox is on loopback; the regional hosts (or your own list) stay allowed too.
        "CDP_ALLOWED_HOSTS": with_sandbox(os.environ.get("CDP_ALLOWED_HOSTS")),
        "CDP_DEMO_ORDER_REFS": ",".join(seed.demo_order_refs()),
        # Queued edits are retried sooner than in production, so a demo does not keep you waiting.
        "PUSH_RETRY_DELAY": os.environ.get("PUSH_RETRY_DELAY", "5"),
    }
    extra = []
    if os.environ.get("SANDBOX_SSO", "").lower() in ("1", "true", "yes", "on"):
        identity_provider, oidc_env = start_identity_provider(
            int(os.environ.get("OIDC_SANDBOX_PORT", "8200")), port
        )
        extra.append(identity_provider)
        env.update(oidc_env)
    subprocess.run([*MANAGE, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "create_demo_users"], env=env, check=True)
    subprocess.run([*MANAGE, "requeue_pushes"], env=env, check=True)
    subprocess.run([*MANAGE, "expire_approvals"], env=env, check=True)

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "cdp_sandbox", "--port", str(sandbox_port),
         "--client-key", client_key, "--api-token", api_token, *sandbox_flags(env)],
        env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        wait_for_port(sandbox_port, sandbox, "CDP sandbox")
    except BaseException:
        stop([sandbox, *extra])
        raise
    print(
        f"\nOpen http://127.0.0.1:{port}/ and sign in with a demo user above. The app speaks "
        f"CDP's REST API {api_version} to the sandbox (SANDBOX_API_VERSION=v2 for the legacy "
        "one). Ctrl-C stops everything.\n",
        flush=True,
    )
    app = subprocess.Popen([*MANAGE, "runserver", f"127.0.0.1:{port}"], env=env, cwd=ROOT)
    supervise([app, *workers(env), sandbox, *extra])


if __name__ == "__main__":
    main()
