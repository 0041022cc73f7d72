"""The moderation capability's message catalog (EN / 中文), read with :func:`say`.

The language is the community's ``language`` setting (``en`` or ``zh``), English otherwise.
Values are escaped by the caller (they are inserted into the Messenger markup subset).
"""

from __future__ import annotations

from typing import Any

from bot.modules import Catalog, text

MESSAGES: Catalog = {
    # antiflood
    "flood.muted": {
        "en": "{name} is muted for {minutes} min: more than {limit} messages in {seconds} s.",
        "zh": "{name} 已被禁言 {minutes} 分钟：{seconds} 秒内发送超过 {limit} 条消息。",
    },
    "flood.warned": {
        "en": "{name}, please slow down: more than {limit} messages in {seconds} s. {summary}",
        "zh": "{name}，请放慢速度：{seconds} 秒内发送超过 {limit} 条消息。{summary}",
    },
    "flood.deleting": {
        "en": "{name}, please slow down: more than {limit} messages in {seconds} s; I'm removing "
              "the extra ones.",
        "zh": "{name}，请放慢速度：{seconds} 秒内发送超过 {limit} 条消息；多出的消息将被删除。",
    },
    "flood.reason": {
        "en": "flooding: more than {limit} messages in {seconds} s",
        "zh": "刷屏：{seconds} 秒内超过 {limit} 条消息",
    },
    "commands.slow_down": {
        "en": "You're sending commands faster than I can answer; I'll ignore them for {seconds} s.",
        "zh": "你发送命令太快了；接下来 {seconds} 秒内的命令我不会回复。",
    },
    # filters
    "filter.reason": {
        "en": "your message matched filter #{id} ({kind})",
        "zh": "你的消息触发了过滤规则 #{id}（{kind}）",
    },
    "filter.kind.word": {"en": "blocked word", "zh": "屏蔽词"},
    "filter.kind.regex": {"en": "blocked pattern", "zh": "屏蔽模式"},
    "filter.warned": {
        "en": "Removed a message from {name} (filter #{id}). {summary}",
        "zh": "已删除 {name} 的一条消息（过滤规则 #{id}）。{summary}",
    },
    "filter.muted": {
        "en": "Removed a message from {name} (filter #{id}); they are muted for {minutes} min.",
        "zh": "已删除 {name} 的一条消息（过滤规则 #{id}）；禁言 {minutes} 分钟。",
    },
    "filter.usage": {
        "en": "Usage: /filter add word <text> [delete|warn|mute], /filter add regex <pattern> "
              "[delete|warn|mute], /filter remove <id or word>, /filter list",
        "zh": "用法：/filter add word <词> [delete|warn|mute]，/filter add regex <模式> "
              "[delete|warn|mute]，/filter remove <编号或词>，/filter list",
    },
    "filter.added": {
        "en": "Filter #{id} added: {kind} {pattern} → {action}.",
        "zh": "已添加过滤规则 #{id}：{kind} {pattern} → {action}。",
    },
    "filter.changed": {
        "en": "Filter #{id} ({kind} {pattern}) now does: {action}.",
        "zh": "过滤规则 #{id}（{kind} {pattern}）的处理方式改为：{action}。",
    },
    "filter.unchanged": {
        "en": "Filter #{id} ({kind} {pattern} → {action}) is already there. Nothing was changed.",
        "zh": "过滤规则 #{id}（{kind} {pattern} → {action}）已存在，未做更改。",
    },
    "filter.refused": {
        "en": "Not added: {reason}.",
        "zh": "未添加：{reason}。",
    },
    "filter.removed": {
        "en": "Filter #{id} ({kind} {pattern}) removed.",
        "zh": "已删除过滤规则 #{id}（{kind} {pattern}）。",
    },
    "filter.unknown": {
        "en": "There is no filter {which} here. See /filter list. Nothing was changed.",
        "zh": "这里没有过滤规则 {which}。请查看 /filter list。未做更改。",
    },
    "filter.empty": {
        "en": "No filters yet. Add one: /filter add word <text>",
        "zh": "还没有过滤规则。添加：/filter add word <词>",
    },
    "filter.list": {
        "en": "<b>Filters</b> (moderators are exempt)",
        "zh": "<b>过滤规则</b>（版主不受限制）",
    },
}


def say(key: str, language: str, **values: Any) -> str:
    """The catalog's text for ``key`` in ``language`` (English when missing)."""
    return text(MESSAGES, key, language, **values)
