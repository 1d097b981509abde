"""python -m services.evidence: run the evidence service until SIGTERM."""

from jitlib.server import run
from services.evidence.app import EvidenceSettings, spec

if __name__ == "__main__":
    run("evidence", spec, EvidenceSettings())
