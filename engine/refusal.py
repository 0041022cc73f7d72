"""The one marker for errors a person causes and can fix by asking differently.

A validator's refusal (a bad value, an unknown key, a rule not met) derives from
:class:`Refusal`, so infrastructure that runs the work (the store's writer, the router)
can tell it from a failure: a refusal becomes the user's reply and at most a DEBUG line,
never a logged traceback.
"""

from __future__ import annotations


class Refusal(Exception):
    """A request refused for a reason its author can fix; the message says what is accepted."""
