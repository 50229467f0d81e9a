"""``python -m tui_annex`` runs the command line."""

from .cli import main

raise SystemExit(main())
