"""python -m services.victims: run the victims service until SIGTERM."""

from jitlib.server import run
from services.victims.app import VictimsSettings, spec

if __name__ == "__main__":
    run("victims", spec, VictimsSettings())
