"""What the composition root hands to capabilities: one frozen, typed :class:`Deps`.

Handlers, commands, jobs, notice sinks, gates and projection factories name what they need
as parameters; each parameter is a field of ``Deps`` (``store: Store`` gets
``deps.store``), or ``deps`` itself for code that wants the whole object checked by mypy.
:func:`check_injectable` refuses at start a parameter that is not a field, or a field no
running capability built (the optional ones below).

The core fields come from the root; a capability builds the services it shares in its
``Module.provides`` (``Deps -> Deps``, a typed :func:`dataclasses.replace`). A service only
its own capability uses needs no field: build it inside the package.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from bot.ports import Clock

if TYPE_CHECKING:
    from bot.handlers.automod import Automod
    from bot.handlers.privacy import PendingForgets
    from bot.notifier import OutboxNotifier
    from bot.nudges.service import NudgeService
    from bot.roles import RoleResolver
    from bot.router import Router
    from bot.settings import Settings
    from bot.settings_schema import SettingsSchema
    from engine.members.privacy import PrivacyHook
    from engine.points.projection import PointsProjection
    from engine.recsys.recommend import RecommenderService
    from engine.store.store import Store

# Parameters the router or the scheduler fill per call, not from Deps.
PER_CALL = frozenset({"event", "messenger", "ctx", "outcome", "router", "community", "now", "notice"})


@dataclass(frozen=True, slots=True)
class Deps:
    """Every dependency a capability may take, typed; built once by :func:`bot.bootstrap.build_app`."""

    store: Store
    settings: Settings
    notifier: OutboxNotifier
    roles: RoleResolver
    router: Router
    clock: Clock
    settings_schema: SettingsSchema
    privacy_hooks: tuple[PrivacyHook, ...] = ()
    # shared services a capability provides (None: that capability is not running)
    points: PointsProjection | None = None          # points
    recommender: RecommenderService | None = None   # recommend
    automod: Automod | None = None                  # moderation
    nudges: NudgeService | None = None              # nudges
    forget_pending: PendingForgets | None = None    # privacy


FIELDS = frozenset(f.name for f in fields(Deps))


def injectable(fn: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(fn).parameters)


def available(deps: Deps | None) -> frozenset[str]:
    """The parameter names ``deps`` can fill."""
    if deps is None:
        return frozenset()
    return frozenset({"deps"} | {name for name in FIELDS if getattr(deps, name) is not None})


def check_injectable(what: str, fn: Callable[..., Any], deps: Deps | None, *, per_call: frozenset[str] = PER_CALL
                     ) -> None:
    """Raise RuntimeError naming ``what`` if ``fn`` wants a parameter nobody provides."""
    known = available(deps) | per_call
    missing = [p for p in injectable(fn) if p not in known]
    if missing:
        raise RuntimeError(f"{what} needs {missing}, which nobody provides")


def call_with(fn: Callable[..., Any], deps: Deps | None, **per_call: Any) -> Any:
    """Call ``fn`` with its parameters filled from ``per_call``, then ``deps``'s fields."""
    return fn(**{p: per_call[p] if p in per_call else deps if p == "deps" else getattr(deps, p)
                 for p in injectable(fn)})
