from jitlib.migrations_env import run
from services.messaging.store import Base

run(Base.metadata)
