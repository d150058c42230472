"""``python -m OrthoAILib.apps``: the ``orthoai`` command without its script."""

from .cli import main

raise SystemExit(main())
