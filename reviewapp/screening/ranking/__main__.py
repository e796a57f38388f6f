"""``python -m reviewapp.screening.ranking FILE --prior-idx ...``: simulate_screening without Django."""

import sys

from reviewapp.screening.ranking.cli import main

if __name__ == "__main__":
    sys.exit(main())
