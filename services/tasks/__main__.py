"""python -m services.tasks: run the tasks service until SIGTERM."""

from jitlib.server import run
from services.tasks.app import TasksSettings, spec

if __name__ == "__main__":
    run("tasks", spec, TasksSettings())
