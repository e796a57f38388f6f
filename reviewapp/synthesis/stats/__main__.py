"""``python -m reviewapp.synthesis.stats FILE --measure ... --model ...``: ``pool`` without Django."""

import sys

from reviewapp.synthesis.stats.cli import main

if __name__ == "__main__":
    sys.exit(main())
