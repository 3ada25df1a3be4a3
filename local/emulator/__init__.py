"""A faithful ServiceM8 emulator on loopback (FACTS.md is the specification).

from local.emulator import Emulator, EmulatorConfig
emu = Emulator(EmulatorConfig(auto_approve=True, seed_records=10))
server = emu.serve(port=0)   # server.url -> http://127.0.0.1:<port>
"""

from local.emulator.config import EmulatorConfig
from local.emulator.emulator import Emulator
from local.emulator.faults import Faults
from local.emulator.server import EmulatorServer

__all__ = ["Emulator", "EmulatorConfig", "EmulatorServer", "Faults"]
