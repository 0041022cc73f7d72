"""``/help``: the commands the caller may use, with their usage."""

from __future__ import annotations

from typing import Any

from bot.markup import esc
from bot.router import CommandContext, Router
from engine.store.store import Store


async def show_help(ctx: CommandContext, router: Router) -> None:
    lines = ["<b>Commands you can use</b>"]
    for spec in router.commands:
        if spec.hidden or spec.min_role > ctx.role:
            continue
        lines.append(f"{esc(spec.usage)} — {esc(spec.summary)}")
    await ctx.reply("\n".join(lines))


async def start(ctx: CommandContext, router: Router, store: Store, app: Any) -> None:
    """``/start`` (Telegram's first contact, also in private): a greeting and /help; a
    welcome's deep link (``/start c<community>``) is answered by onboarding."""
    from bot.handlers.welcome import opened_from_link

    if ctx.args and await opened_from_link(ctx, store, app):
        return
    await ctx.reply("Hi! I keep score of how this community helps each other. Send /help to see what I can do.")


def register(router: Router, app: Any) -> None:
    router.command("help", show_help, summary="list the commands you can use", usage="/help")
    router.command("start", start, summary="say hello", hidden=True)
