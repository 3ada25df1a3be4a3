"""`python -m local.emulator`: serve the emulator on 127.0.0.1 until Ctrl-C.

Environment: PORT (8090), SEED_RECORDS (0), SERVICEM8_API_KEY (unset = API keys refused),
EMULATOR_AUTO_APPROVE=1, EMULATOR_CLIENT_ID / EMULATOR_CLIENT_SECRET
(local-app-id / local-app-secret).
"""

from __future__ import annotations

import os

from local.emulator import Emulator, EmulatorConfig


def config_from_env(env: dict[str, str] | os._Environ[str] = os.environ) -> EmulatorConfig:
    return EmulatorConfig(
        client_id=env.get("EMULATOR_CLIENT_ID", "local-app-id"),
        client_secret=env.get("EMULATOR_CLIENT_SECRET", "local-app-secret"),
        api_key=env.get("SERVICEM8_API_KEY") or None,
        auto_approve=env.get("EMULATOR_AUTO_APPROVE", "") in ("1", "true", "yes"),
        seed_records=int(env.get("SEED_RECORDS", "0") or 0),
    )


def main() -> None:
    config = config_from_env()
    emulator = Emulator(config)
    server = emulator.serve(host="127.0.0.1", port=int(os.environ.get("PORT", "8090")))
    print(
        f"ServiceM8 emulator on {server.url} "
        f"(client_id={config.client_id}, auto_approve={config.auto_approve})",
        flush=True,
    )
    try:
        server.serve_forever_in_foreground()
    finally:
        emulator.close()


if __name__ == "__main__":
    main()
