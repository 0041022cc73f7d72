"""``/help``: the commands the caller may use, with their usage; ``/start`` greets."""

from __future__ import annotations

from bot.markup import esc
from bot.modules import Catalog, Module
from bot.ports import Clock
from bot.router import CommandContext, CommandSpec, Router
from bot.settings import Settings
from engine.store.store import Store

MESSAGES: Catalog = {
    "help.title": {"en": "<b>Commands you can use</b>", "zh": "<b>你可以使用的命令</b>"},
    "help.start": {"en": "Hi! I keep score of how this community helps each other. Send /help to see what I can do.",
                   "zh": "你好！我记录这个社区里大家如何互相帮助。发送 /help 查看我能做什么。"},
    "sum.help": {"en": "list the commands you can use", "zh": "列出你可以使用的命令"},
}


async def show_help(ctx: CommandContext, router: Router) -> None:
    lines = [ctx.t("help.title")]
    for spec in router.commands:
        if spec.hidden or spec.min_role > ctx.role:
            continue
        summary = ctx.t(f"sum.{spec.name}") if f"sum.{spec.name}" in ctx.messages else spec.summary
        lines.append(f"{esc(spec.usage)} — {esc(summary)}")
    await ctx.reply("\n".join(lines))


async def start(ctx: CommandContext, store: Store, clock: Clock, settings: Settings) -> None:
    """``/start`` (Telegram's first contact, also in private): a greeting and /help; a
    welcome's deep link (``/start c<community>``) is answered by onboarding."""
    from bot.handlers.welcome import opened_from_link

    if ctx.args and await opened_from_link(ctx, store, clock, settings):
        return
    await ctx.reply(ctx.t("help.start"))


MODULE = Module(
    name="help",
    commands=(
        CommandSpec("help", show_help, summary="list the commands you can use", usage="/help"),
        CommandSpec("start", start, summary="say hello", hidden=True),
    ),
    messages=MESSAGES,
)
