"""`python -m monitor`: the same command line as the `monitor` script."""

import sys

from monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
