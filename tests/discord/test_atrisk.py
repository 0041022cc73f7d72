"""/atrisk on Discord: discord.py through dpytest (the prefix form and the slash command
from the CommandTree), the real router, handler and store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.store.models import Community
from tests.churn.seed import store_risks
from tests.discord.conftest import Env, slash_payload
from tests.discord.test_moderation_platform import known, one_with, say
from tests.discord.test_scenarios import settle_tree

SCORED = date(2026, 3, 2)


async def scored(env: Env) -> None:
    """alice, bob and the moderator have spoken; bob is at 90 % risk, alice at 20 %."""
    await known(env, env.alice, env.bob, env.mod)
    with Session(env.app.store.engine) as session:
        store_risks(session, "discord", str(env.guild.id), {str(env.bob.id): 0.9, str(env.alice.id): 0.2}, SCORED,
                    last_active=datetime(2026, 2, 10, tzinfo=UTC))


def plain(markdown: str) -> str:
    return markdown.replace("\\", "")  # Discord markdown escapes parentheses and the like


async def test_a_moderator_lists_and_inspects_members_at_risk(env: Env) -> None:
    await scored(env)
    reply = plain(one_with(await say(env, env.mod, "!atrisk"), "At risk"))
    assert reply.startswith("**At risk** (scored 2026-03-02: 1 flagged of 2)")  # markup rendered for Discord
    assert "⚑ **bob** — 90% · last active 2026-02-10 (20 d ago)\n   silent for 18 days" in reply
    assert "alice" not in reply and "<b>" not in reply  # 20 % is under the threshold
    one = plain(one_with(await say(env, env.mod, f"!atrisk <@{env.bob.id}>"), "risk 90%"))
    assert "(flagged, scored 2026-03-02)" in one and "silent for 18 days" in one
    one = plain(one_with(await say(env, env.mod, "!atrisk @alice"), "risk 20%"))
    assert "not flagged" in one


async def test_members_without_rights_and_bad_arguments_get_a_clear_answer(env: Env) -> None:
    await scored(env)
    refused = plain(one_with(await say(env, env.alice, "!atrisk"), "/atrisk"))
    assert "for moderators and above" in refused and "bob" not in refused
    for text, expect in (("!atrisk ²", "² is not a valid n"), ("!atrisk -1", "-1 is not a valid n"),
                         ("!atrisk 99", "99 is not a valid n"), ("!atrisk 2 ²", "² is not a valid page"),
                         ("!atrisk @nobody", "I don't know @nobody in this community."),
                         ("!atrisk 1 2 3", "Usage: /atrisk")):
        sent = [plain(m) for m in await say(env, env.mod, text)]
        one_with(sent, expect)
        assert not any("Traceback" in m or "90%" in m for m in sent), (text, sent)


async def test_the_slash_command_answers_in_the_communitys_language(env: Env) -> None:
    await scored(env)
    await env.app.store.write(lambda s: s.execute(update(Community).values(settings={"language": "zh"})))

    async def slash(member: Any, args: str | None) -> str:
        options = None if args is None else [{"name": "args", "type": 3, "value": args}]
        payload = slash_payload(env, member, "atrisk", options=options)
        env.client._connection.parse_interaction_create(payload)
        await settle_tree(env)
        calls = [c for c in env.webhook_calls if c.method == "POST" and payload["token"] in c.url
                 and "/webhooks/" in c.url]
        return plain("\n".join(str((c.payload or {}).get("content")) for c in calls))

    listed = await slash(env.mod, None)
    assert "流失风险" in listed and "2 人中 1 人被标记" in listed and "已经 18 天没有动静" in listed
    assert "bob" in listed and "alice" not in listed
    assert "不是有效的 n" in await slash(env.mod, "²")
    assert "/atrisk 仅限版主" in await slash(env.bob, None)  # the refusal speaks the community's language too
