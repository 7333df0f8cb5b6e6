"""``python -m aejax`` -- the same as the ``aejax`` command."""
from aejax.cli import main

raise SystemExit(main())
