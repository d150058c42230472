"""The busy state of a module panel: which buttons stay disabled while long work runs.

Long work runs on the GUI thread and calls ``processEvents`` so that Cancel stays
clickable; meanwhile any parameter change (a node selector, a spin box, a scene
event) refreshes the panel, and a refresh that computes button states from
parameters alone would enable a button whose work is already running. The
panel therefore owns this state and applies it after every refresh.

Plain Python (buttons are any objects with an ``enabled`` attribute), so it is
tested outside the application.
"""

from __future__ import annotations

from typing import Iterable, Optional


class BusyButtons:
    def __init__(self) -> None:
        self._held: Optional[list] = None  # [(button, enabled before the work)] while work runs

    @property
    def active(self) -> bool:
        return self._held is not None

    def start(self, buttons: Iterable) -> None:
        """Work begins: remember the buttons' states and disable them."""
        if self.active:
            raise RuntimeError("Other work is still running.")
        self._held = [(button, bool(button.enabled)) for button in buttons]
        self.hold()

    def hold(self) -> None:
        """Keep the busy buttons disabled; call after every refresh of the panel (no-op when idle)."""
        for button, _ in self._held or ():
            button.enabled = False

    def finish(self) -> None:
        """Work ended: give the buttons back the states they had before; a refresh then updates those
        that depend on parameters."""
        held, self._held = self._held or [], None
        for button, enabled in held:
            button.enabled = enabled
