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
    # the moderators' commands (/mod, /warn, /mute, /ban, /kick, /purge, /modlog, ...)
    "mod.use_in_chat": {"en": "Use this in your community's chat.", "zh": "请在社区的群聊中使用此命令。"},
    "mod.who": {"en": "Who? Name a member (@username or user id) or reply to their message to {verb} them.",
                "zh": "要{verb}谁？请指明成员（@用户名或用户 ID），或回复其消息。"},
    "mod.unknown": {"en": "I don't know {who} in this community.", "zh": "本社区中找不到 {who}。"},
    "mod.a_bot": {"en": "{name} is a bot; I can't {verb} bots.", "zh": "{name} 是机器人；我不能{verb}机器人。"},
    "mod.yourself": {"en": "You can't {verb} yourself.", "zh": "你不能{verb}自己。"},
    "mod.verb.change the role of": {"en": "change the role of", "zh": "更改角色"},
    "mod.verb.warn": {"en": "warn", "zh": "警告"},
    "mod.verb.unwarn": {"en": "unwarn", "zh": "撤销警告"},
    "mod.verb.mute": {"en": "mute", "zh": "禁言"},
    "mod.verb.unmute": {"en": "unmute", "zh": "解除禁言"},
    "mod.verb.ban": {"en": "ban", "zh": "封禁"},
    "mod.verb.unban": {"en": "unban", "zh": "解除封禁"},
    "mod.verb.kick": {"en": "kick", "zh": "移出"},
    "mod.verb.delete messages of": {"en": "delete messages of", "zh": "删除消息"},
    "mod.told.sent": {"en": "I've told them privately.", "zh": "我已私信告知对方。"},
    "mod.told.opted_out": {"en": "They opted out of private messages, so I didn't message them.",
                           "zh": "对方已拒收私信，所以我没有私信他们。"},
    "mod.told.unreachable": {"en": "I couldn't message them privately (they have not opened a chat with me).",
                             "zh": "我无法私信对方（对方还没有和我开始私聊）。"},
    "mod.told.failed": {"en": "Messaging them privately failed.", "zh": "私信对方失败。"},
    "mod.list_empty": {"en": "Cohort's moderator list is empty. Add someone with /mod add @member.",
                       "zh": "Cohort 的版主名单是空的。用 /mod add @成员 添加。"},
    "mod.list": {"en": "<b>Cohort moderators</b>", "zh": "<b>Cohort 版主</b>"},
    "mod.usage": {"en": "Usage: /mod add @member, /mod remove @member or /mod list",
                  "zh": "用法：/mod add @成员、/mod remove @成员 或 /mod list"},
    "mod.added": {"en": "{name} is now a Cohort moderator.", "zh": "{name} 现在是 Cohort 版主。"},
    "mod.already": {"en": "{name} is already a moderator.", "zh": "{name} 已经是版主。"},
    "mod.removed": {"en": "{name} is no longer a Cohort moderator.", "zh": "{name} 不再是 Cohort 版主。"},
    "mod.not_listed": {"en": "{name} isn't on Cohort's moderator list.", "zh": "{name} 不在 Cohort 的版主名单上。"},
    "mod.cannot": {"en": "I can't {verb} members on {platform}. Please use its own moderation tools; /warn records a "
                         "warning in Cohort's audit log.",
                   "zh": "我无法在 {platform} 上{verb}成员。请使用平台自带的管理工具；/warn 会在 Cohort 的审计日志中记录警告。"},
    "mod.refused": {"en": "The platform refused: {error}. Nothing was changed.", "zh": "平台拒绝了：{error}。没有做任何更改。"},
    "mod.not_changed": {"en": "{error} Nothing was changed.", "zh": "{error} 没有做任何更改。"},
    "mod.muted_until": {"en": "{name} is muted until {when}.", "zh": "{name} 已被禁言，直到 {when}。"},
    "mod.muted_for_good": {"en": "{name} is muted until a moderator lifts it.", "zh": "{name} 已被禁言，直到版主解除。"},
    "mod.banned_until": {"en": "{name} is banned until {when}.", "zh": "{name} 已被封禁，直到 {when}。"},
    "mod.banned_for_good": {"en": "{name} is banned.", "zh": "{name} 已被封禁。"},
    "mod.unmuted": {"en": "{name} can speak again.", "zh": "{name} 可以再次发言了。"},
    "mod.already_banned": {"en": "{name} is already banned. Nothing was changed.", "zh": "{name} 已经被封禁。没有做任何更改。"},
    "mod.unbanned": {"en": "{name} is no longer banned and may join again.", "zh": "{name} 已解除封禁，可以重新加入。"},
    "mod.kicked": {"en": "{name} was removed; they may come back with an invite.",
                   "zh": "{name} 已被移出；凭邀请可以重新加入。"},
    "mod.purge_in_chat": {"en": "Use /purge in the chat to clean up.", "zh": "请在要清理的群聊中使用 /purge。"},
    "mod.purge_usage": {"en": "Usage: /purge N — deletes the last N messages here (1 to {most}).",
                        "zh": "用法：/purge N — 删除这里最近的 N 条消息（1 到 {most}）。"},
    "mod.purge_bad": {"en": "{error} Nothing was deleted.", "zh": "{error} 没有删除任何消息。"},
    "mod.purged": {"en": "Deleted {n} {n:plural:message|messages} (your command included).{note}",
                   "zh": "已删除 {n} 条消息（包括你的命令）。{note}"},
    "mod.too_old": {"en": " {n} were too old for the platform to let me delete.", "zh": "其中 {n} 条太旧，平台不允许删除。"},
    "mod.warn_reason": {"en": "Add a reason: /warn @member reason", "zh": "请写明原因：/warn @成员 原因"},
    "mod.escalated": {"en": " That is {active} active warnings: muted until {until}.",
                      "zh": "已有 {active} 次有效警告：禁言至 {until}。"},
    "mod.lifted": {"en": "lifted", "zh": "解除"},
    "mod.escalation_failed": {"en": " That is {active} active warnings, but muting failed: {error}.",
                              "zh": "已有 {active} 次有效警告，但禁言失败：{error}。"},
    "mod.warn_dm": {"en": "You received a warning from the moderators of {community}:\n<i>{reason}</i>\nActive "
                          "warnings: {active} (each expires after {days} days).",
                    "zh": "你收到了 {community} 版主的警告：\n<i>{reason}</i>\n有效警告：{active} 次（每次 {days} 天后失效）。"},
    "mod.warn_dm_threshold": {"en": "\nAt {at} you are muted automatically.", "zh": "\n达到 {at} 次将被自动禁言。"},
    "mod.your_community": {"en": "your community", "zh": "你的社区"},
    "mod.warned": {"en": "Warning recorded for {name} ({active} active).{escalated} {note}",
                   "zh": "已记录对 {name} 的警告（有效 {active} 次）。{escalated}{note}"},
    "mod.no_warnings_you": {"en": "You have no warnings here.", "zh": "你在这里没有警告。"},
    "mod.warns_mods_only": {"en": "Only moderators can see another member's warnings; /warns shows yours.",
                            "zh": "只有版主能查看其他成员的警告；/warns 显示你自己的。"},
    "mod.no_active": {"en": "{name} has no active warnings.", "zh": "{name} 没有有效警告。"},
    "mod.warns_title": {"en": "<b>Active warnings of {name}: {n}</b>", "zh": "<b>{name} 的有效警告：{n} 次</b>"},
    "mod.warn_line": {"en": "#{id} · {at} · {actor}: {reason} (expires {expires})",
                      "zh": "#{id} · {at} · {actor}：{reason}（{expires} 失效）"},
    "mod.system": {"en": "system", "zh": "系统"},
    "mod.warn_id_bad": {"en": "{error} See /warns @member for the ids.", "zh": "{error} 用 /warns @成员 查看编号。"},
    "mod.no_such_warning": {"en": "{name} has no active warning #{id}. Nothing was changed.",
                            "zh": "{name} 没有编号为 #{id} 的有效警告。没有做任何更改。"},
    "mod.no_warning": {"en": "{name} has no active warnings. Nothing was changed.",
                       "zh": "{name} 没有有效警告。没有做任何更改。"},
    "mod.revoked": {"en": "Warning #{id} of {name} revoked.", "zh": "已撤销 {name} 的警告 #{id}。"},
    "mod.audit_usage": {"en": "{error} Usage: /modlog [@member] [n].", "zh": "{error} 用法：/modlog [@成员] [n]。"},
    "mod.audit_empty": {"en": "The audit log is empty.", "zh": "审计日志是空的。"},
    "mod.audit_none_about": {"en": "Nothing in the audit log about them.", "zh": "审计日志中没有关于此成员的记录。"},
    "mod.audit_title": {"en": "<b>Audit log (newest first, {zone})</b>", "zh": "<b>审计日志（最新在前，{zone}）</b>"},
    "mod.audit_system": {"en": "<i>system</i>", "zh": "<i>系统</i>"},
    "mod.audit_forgotten": {"en": " → <i>forgotten member</i>", "zh": " → <i>已删除数据的成员</i>"},
    "mod.settings_title": {"en": "<b>Moderation settings</b>", "zh": "<b>管理设置</b>"},
    "mod.settings_hint": {"en": "Change one: /config moderation.KEY VALUE", "zh": "修改：/config moderation.键 值"},
    "mod.setting_refused": {"en": "Not changed: {error}.", "zh": "未修改：{error}。"},
    "mod.setting_set": {"en": "moderation.{key} is now {value}.", "zh": "moderation.{key} 已设为 {value}。"},
    "kick.left": {"en": "{name} has already left; there is nobody to remove. Nothing was changed. "
                        "(/ban keeps them from coming back.)",
                  "zh": "{name} 已经离开；没有可移除的人。未做更改。（/ban 可以阻止其再次加入。）"},
}


def say(key: str, language: str, **values: Any) -> str:
    """The catalog's text for ``key`` in ``language`` (English when missing)."""
    return text(MESSAGES, key, language, **values)
