from jitlib.migrations_env import run
from services.evidence.store import Base

run(Base.metadata)
