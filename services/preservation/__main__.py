"""python -m services.preservation: run the preservation service until SIGTERM."""

from jitlib.server import run
from services.preservation.app import PreservationSettings, spec

if __name__ == "__main__":
    run("preservation", spec, PreservationSettings())
