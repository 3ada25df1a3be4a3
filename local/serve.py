"""`make local`: keep the local stack serving so a person can click and curl.

The API listens on 127.0.0.1:3000 and the emulator on 127.0.0.1:8090 unless
API_PORT / EMULATOR_PORT say otherwise; APP_PORT (default 8000) serves the
sample app that starts the connect flow. The emulator shows its consent page
(EMULATOR_AUTO_APPROVE=1 skips it).
"""

from __future__ import annotations

import os
import signal
import threading

from local.environment import LocalEnvironment, LocalOptions


def main() -> None:
    options = LocalOptions(
        api_port=int(os.environ.get("API_PORT", "3000")),
        emulator_port=int(os.environ.get("EMULATOR_PORT", "8090")),
        app_port=int(os.environ.get("APP_PORT", "8000")),
        auto_approve=os.environ.get("EMULATOR_AUTO_APPROVE") == "1",
        seed_records=int(os.environ.get("SEED_RECORDS", "0")),
        run_schedules_every=3600.0,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with LocalEnvironment(options) as env:
        print(f"""
ServiceM8 connector, local stack (moto + emulator; nothing leaves this machine)
  API                 {env.api_url}
  ServiceM8 emulator  {env.emulator_url}
  Sample app          {env.app_url}   ← open this and press "Connect ServiceM8"

  Connect:   {env.api_url}/connect?return_url={env.app_url}/return&reference=me
  Actions:   curl {env.api_url}/connections/<connection_id>/clients
  Ctrl-C stops everything.
""", flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
