"""Run a module's self-test methods so that a skipped test reads as skipped in the application.

Slicer's "Reload and Test" and the SelfTests module call ``<Module>Test().runTest()``
directly (``ScriptedLoadableModule.runTest``), inside
``slicer.util.tryWithErrorDisplay("Reload and Test failed.")``: no unittest runner
is involved, so a ``self.skipTest(...)`` (``unittest.SkipTest``) escaping
``runTest`` is shown as a failure. ``run_test_methods`` catches it per test, says
why it was skipped, and goes on with the next test. (Under ctest, Slicer's
``slicer.testing.runUnitTest`` runs the ``test_*`` methods through unittest,
which reports skips by itself.)

Plain Python (unittest only), so it is tested outside the application.
"""

from __future__ import annotations

import logging
import unittest
from typing import Callable, Optional, Sequence


def run_test_methods(test_case: unittest.TestCase, names: Sequence[str],
                     report: Optional[Callable[[str], object]] = None) -> dict[str, str]:
    """Call ``setUp()``, ``<name>()``, ``tearDown()`` for each name; returns ``{name: "passed" | "skipped: why"}``.

    A failure or error propagates (the application shows it); a skip is logged and passed to
    ``report`` (``ScriptedLoadableModuleTest.delayDisplay`` in the application), then the next test runs.
    """
    results = {}
    for name in names:
        test_case.setUp()
        try:
            getattr(test_case, name)()
        except unittest.SkipTest as skip:
            results[name] = f"skipped: {skip}"
        else:
            results[name] = "passed"
        finally:
            test_case.tearDown()
        if results[name] != "passed":
            message = f"{type(test_case).__name__}.{name} {results[name]}"
            logging.warning(message)
            if report is not None:
                report(message)
    skipped = sum(result != "passed" for result in results.values())
    summary = f"{type(test_case).__name__}: {len(results) - skipped} passed, {skipped} skipped"
    logging.info(summary)
    if report is not None:
        report(summary)
    return results
