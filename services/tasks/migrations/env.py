from jitlib.migrations_env import run
from services.tasks.store import Base

run(Base.metadata)
