from jitlib.migrations_env import run
from services.victims.store import Base

run(Base.metadata)
