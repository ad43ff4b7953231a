import sys
from pathlib import Path

# The toy task (Dict observations with an image) lives with the task tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
