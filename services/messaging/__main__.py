"""python -m services.messaging: run the messaging service until SIGTERM."""

from jitlib.server import run
from services.messaging.app import MessagingSettings, spec

if __name__ == "__main__":
    run("messaging", spec, MessagingSettings())
