"""The router checks a command's minimum role once and lists only allowed commands."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from bot.ports import Role
from bot.router import CommandContext
from tests.doubles.events import command
from tests.doubles.messenger import RecordingMessenger


@pytest.mark.parametrize("role", list(Role))
async def test_min_role_is_enforced_for_every_role(app: App, role: Role) -> None:
    ran: list[Role] = []

    async def secret(ctx: CommandContext) -> None:
        ran.append(ctx.role)
        await ctx.reply("done")

    app.router.command("secret", secret, min_role=Role.ADMIN, summary="admin thing")
    m = RecordingMessenger(roles={"alice": role})
    await app.dispatch(command("alice", "secret"), m)
    if role >= Role.ADMIN:
        assert ran == [role] and m.replies_to("alice") == ["done"]
    else:
        assert ran == [] and m.replies_to("alice") == ["/secret is for admins and above."]


async def test_help_lists_only_what_the_caller_may_use(app: App) -> None:
    async def noop(ctx: CommandContext) -> None: ...

    app.router.command("modthing", noop, min_role=Role.MODERATOR, summary="mods only")
    m = RecordingMessenger(roles={"mod": Role.MODERATOR})
    await app.dispatch(command("member", "help"), m)
    await app.dispatch(command("mod", "help"), m)
    assert "/modthing" not in m.replies_to("member")[0]
    assert "/modthing" in m.replies_to("mod")[0]


async def test_stored_moderator_role_counts(app: App) -> None:
    from sqlalchemy import update

    from engine.store.models import CommunityMember

    async def modonly(ctx: CommandContext) -> None:
        await ctx.reply("ok")

    app.router.command("modonly", modonly, min_role=Role.MODERATOR)
    m = RecordingMessenger()
    await app.dispatch(command("bob", "help"), m)  # bob becomes known
    await app.store.write(lambda s: s.execute(update(CommunityMember).values(role=int(Role.MODERATOR))))
    await app.dispatch(command("bob", "modonly"), m)
    assert m.replies_to("bob")[-1] == "ok"


async def test_owner_ids_setting_makes_an_owner(tmp_path) -> None:
    from bot.bootstrap import build_app
    from bot.settings import load_settings

    s = load_settings(storage={"url": f"sqlite:///{tmp_path / 'o.db'}"}, owner_ids=["console:boss"])
    application = build_app(s)
    application.store.create_schema()
    application.start()
    try:
        async def owner_only(ctx: CommandContext) -> None:
            await ctx.reply("yes boss")

        application.router.command("owneronly", owner_only, min_role=Role.OWNER)
        m = RecordingMessenger()
        await application.dispatch(command("boss", "owneronly"), m)
        assert m.replies_to("boss") == ["yes boss"]
    finally:
        application.stop()


def test_missing_dependency_fails_at_start(app: App) -> None:
    async def needs(ctx: CommandContext, nonexistent_service: object) -> None: ...

    app.router.command("needs", needs)
    with pytest.raises(RuntimeError, match="nonexistent_service"):
        app.router.check()
