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
        "en": "Usage: /filter add word &lt;text&gt; [delete|warn|mute], /filter add regex &lt;pattern&gt; "
              "[delete|warn|mute], /filter remove &lt;id or word&gt;, /filter list, /filter links … "
              "(allowed domains, newcomers' links)",
        "zh": "用法：/filter add word &lt;词&gt; [delete|warn|mute]，/filter add regex &lt;模式&gt; "
              "[delete|warn|mute]，/filter remove &lt;编号或词&gt;，/filter list，/filter links …（域名白名单、新成员链接）",
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
        "en": "No filters yet. Add one: /filter add word &lt;text&gt;",
        "zh": "还没有过滤规则。添加：/filter add word &lt;词&gt;",
    },
    "filter.list": {
        "en": "<b>Filters</b> (moderators are exempt)",
        "zh": "<b>过滤规则</b>（版主不受限制）",
    },
    # welcome and the first-week checklist
    "welcome.button.link": {"en": "Open a private chat with me", "zh": "和我私聊"},
    "welcome.button.dm": {"en": "Send me a DM", "zh": "给我发私信"},
    "welcome.no_rules": {"en": "(no rules set yet)", "zh": "（尚未设置规则）"},
    "welcome.first_dm": {
        "en": "Hi {name}! This is our private chat: I'll send you tips and your weekly digest for "
              "{community} here (/optout stops them).\n\n{checklist}",
        "zh": "{name} 你好！这是我们的私聊：我会在这里发送 {community} 的提示和每周摘要（发送 /optout "
              "可停止）。\n\n{checklist}",
    },
    "welcome.check_dms": {"en": "I've sent you a private message.", "zh": "我已给你发了私信。"},
    "welcome.dm_closed": {
        "en": "I couldn't message you privately: please allow direct messages from server members "
              "(the server's Privacy Settings), then tap the button again.",
        "zh": "我无法给你发私信：请在服务器的隐私设置中允许来自服务器成员的私信，然后再点一次按钮。",
    },
    "welcome.usage": {
        "en": "Usage: /welcome show, /welcome on, /welcome off, /welcome set &lt;text&gt; ({{name}}, {{community}} "
              "and {{rules}} are filled in), /welcome rules &lt;text&gt;, /welcome delete_after &lt;minutes|off&gt;",
        "zh": "用法：/welcome show、/welcome on、/welcome off、/welcome set &lt;文本&gt;（会填入 {{name}}、{{community}}、"
              "{{rules}}）、/welcome rules &lt;文本&gt;、/welcome delete_after &lt;分钟|off&gt;",
    },
    "welcome.show": {
        "en": "<b>Welcome</b>: {state}; deleted after: {after}\n<b>Rules</b>: {rules}\n<b>Text</b>:\n{template}",
        "zh": "<b>欢迎消息</b>：{state}；自动删除：{after}\n<b>规则</b>：{rules}\n<b>文本</b>：\n{template}",
    },
    "welcome.on": {"en": "on", "zh": "开启"},
    "welcome.off": {"en": "off", "zh": "关闭"},
    "welcome.never": {"en": "never", "zh": "不删除"},
    "welcome.minutes": {"en": "{n} min", "zh": "{n} 分钟"},
    "welcome.saved": {"en": "Welcome settings saved. {shown}", "zh": "欢迎设置已保存。{shown}"},
    "welcome.refused": {"en": "Not changed: {reason}.", "zh": "未更改：{reason}。"},
    "checklist.title": {"en": "<b>Your first week</b>", "zh": "<b>你的第一周</b>"},
    "checklist.intro": {"en": "introduce yourself (a message with #intro)", "zh": "自我介绍（消息中带 #intro 或 #自我介绍）"},
    "checklist.question": {"en": "ask a question", "zh": "提一个问题"},
    "checklist.lesson": {"en": "finish your first lesson (/done)", "zh": "完成第一课（/done）"},
    "checklist.badge": {"en": "Do all three in your first week to earn the badge <b>{badge}</b>.",
                        "zh": "在第一周内完成这三项即可获得徽章 <b>{badge}</b>。"},
    "checklist.earned": {"en": "🏅 {name} finished the first-week checklist and earned <b>{badge}</b>!",
                         "zh": "🏅 {name} 完成了第一周任务，获得徽章 <b>{badge}</b>！"},
    "kick.left": {"en": "{name} has already left; there is nobody to remove. Nothing was changed. "
                        "(/ban keeps them from coming back.)",
                  "zh": "{name} 已经离开；没有可移除的人。未做更改。（/ban 可以阻止其再次加入。）"},
}


def say(key: str, language: str, **values: Any) -> str:
    """The catalog's text for ``key`` in ``language`` (English when missing)."""
    return text(MESSAGES, key, language, **values)
