"""A faithful fake of Keycloak and the Meeting Insights API, on one port (interface.md section 7).

Example::

    async with running_simulator(SimulatorOptions(pending_seconds=0.1)) as sim:
        ...  # point KEYCLOAK_BASE_URL and API_BASE_URL at sim.url
"""

from hrec_ingest.simulator.app import RunningSimulator, build_app, running_simulator, serve
from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.state import SimulatorState

__all__ = [
    "RunningSimulator",
    "SimulatorOptions",
    "SimulatorState",
    "build_app",
    "running_simulator",
    "serve",
]
