"""``python -m latentclass``: the command line of :mod:`latentclass.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
