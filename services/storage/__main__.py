"""python -m services.storage --config <state>/cluster.json --az <az>"""

import sys

from services.common.process import run_service
from services.storage.server import serve

if __name__ == "__main__":
    sys.exit(run_service("storage", serve))
