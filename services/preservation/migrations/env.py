from jitlib.migrations_env import run
from services.preservation.store import Base

run(Base.metadata)
