"""``python -m sciml`` (also what ``torchrun -m sciml train CONFIG`` runs)."""

import sys

from sciml.cli import main

sys.exit(main())
