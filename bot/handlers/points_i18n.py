"""Every user-facing string of the points commands, in English and Chinese: the points
module's ``messages`` (worded with :func:`bot.i18n.text` / ``ctx.t``), and badge names.
"""

from __future__ import annotations

from bot.i18n import Catalog

MESSAGES: Catalog = {
    # /me
    "me.title": {"en": "<b>{name}</b> — {points} {points:plural:point|points}", "zh": "<b>{name}</b> — {points} 积分"},
    "me.level": {"en": "Level {level} {bar} {into}/{span} to level {next}",
                 "zh": "等级 {level} {bar} {into}/{span}，距离等级 {next}"},
    "me.rank": {"en": "Rank: #{rank}", "zh": "排名：第 {rank} 名"},
    "me.unranked": {"en": "Rank: not on the board yet", "zh": "排名：尚未上榜"},
    "me.streak": {"en": "Streak: {streak} {streak:plural:day|days} (best {best})", "zh": "连续活跃：{streak} 天（最长 {best} 天）"},
    "me.badges": {"en": "Badges: {badges}", "zh": "徽章：{badges}"},
    "me.no_badges": {"en": "Badges: none yet", "zh": "徽章：暂无"},
    "me.stats": {"en": "Accepted answers: {accepted} · members helped: {helped}",
                 "zh": "被采纳的回答：{accepted} · 帮助过的成员：{helped}"},
    "me.others_refused": {"en": "Only moderators can see another member's profile. Send /me for your own.",
                          "zh": "只有管理员可以查看其他成员的资料。发送 /me 查看你自己的。"},
    "me.usage": {"en": "Usage: /me, or /me @member (moderators)", "zh": "用法：/me，或 /me @成员（管理员）"},
    # /leaderboard
    "lb.title.week": {"en": "<b>Leaderboard — week {label}</b>", "zh": "<b>排行榜 — 第 {label} 周</b>"},
    "lb.title.month": {"en": "<b>Leaderboard — {label}</b>", "zh": "<b>排行榜 — {label}</b>"},
    "lb.title.season": {"en": "<b>Leaderboard — season {label}</b>", "zh": "<b>排行榜 — 赛季 {label}</b>"},
    "lb.title.all": {"en": "<b>Leaderboard — all time</b>", "zh": "<b>排行榜 — 总榜</b>"},
    "lb.row": {"en": "{rank}. {name} — {points}", "zh": "{rank}. {name} — {points}"},
    "lb.empty": {"en": "No points yet in this period.", "zh": "这段时间还没有人获得积分。"},
    "lb.no_season": {"en": "There has been no season yet. Moderators start one with /season start NAME.",
                     "zh": "还没有赛季。管理员可以用 /season start 名称 开始一个赛季。"},
    "lb.bad_period": {"en": "Use /leaderboard week, month, season or all.",
                      "zh": "请使用 /leaderboard week、month、season 或 all。"},
    # /badges
    "badges.title": {"en": "<b>Badges</b> (✓ = yours)", "zh": "<b>徽章</b>（✓ = 已获得）"},
    "badges.row": {"en": "{mark} {name} — {desc}", "zh": "{mark} {name} — {desc}"},
    # announcements
    "ann.badge": {"en": "🏅 {name} earned the badge <b>{badge}</b>!", "zh": "🏅 {name} 获得了徽章 <b>{badge}</b>！"},
    "ann.level": {"en": "⬆️ {name} reached level <b>{level}</b>!", "zh": "⬆️ {name} 升到了 <b>{level}</b> 级！"},
    "ann.accepted": {"en": "✅ Answer by {name} accepted (+{points}).", "zh": "✅ {name} 的回答被采纳（+{points}）。"},
    # /points
    "points.usage": {"en": "Usage: /points give|take @member N reason",
                     "zh": "用法：/points give|take @成员 数量 原因"},
    "points.bad_amount": {"en": "The amount must be a whole number from 1 to {max}.",
                          "zh": "数量必须是 1 到 {max} 之间的整数。"},
    "points.need_reason": {"en": "Please give a reason: /points give @member N reason",
                           "zh": "请写明原因：/points give @成员 数量 原因"},
    "points.given": {"en": "Gave {amount} {amount:plural:point|points} to {name} (now {total}).",
                     "zh": "已给 {name} 增加 {amount} 积分（现在 {total}）。"},
    "points.taken": {"en": "Took {amount} {amount:plural:point|points} from {name} (now {total}).",
                     "zh": "已从 {name} 扣除 {amount} 积分（现在 {total}）。"},
    "points.negative": {"en": "{name} has only {total} {total:plural:point|points}; you can't take more than that.",
                        "zh": "{name} 只有 {total} 积分，不能扣除更多。"},
    # shared errors
    "err.self": {"en": "You can't change your own points or badges.", "zh": "不能修改自己的积分或徽章。"},
    "err.bot": {"en": "Bots don't take part in points.", "zh": "机器人不参与积分。"},
    "err.no_member": {"en": "Tell me who: @username, their user id, or reply to one of their messages.",
                      "zh": "请指明成员：@用户名、用户 ID，或回复他们的消息。"},
    "err.unknown_member": {"en": "I don't know {who} in this community.", "zh": "本社区中找不到 {who}。"},
    "err.no_community": {"en": "I don't know which community you mean; use this command in the group.",
                         "zh": "不确定你指的是哪个社区，请在群组中使用此命令。"},
    "err.duplicate": {"en": "That change was already made.", "zh": "这个修改已经执行过了。"},
    # /badge
    "badge.usage": {"en": "Usage: /badge grant|revoke @member badge", "zh": "用法：/badge grant|revoke @成员 徽章"},
    "badge.unknown": {"en": "Unknown badge. Badges: {badges}", "zh": "未知的徽章。可用徽章：{badges}"},
    "badge.granted": {"en": "Granted <b>{badge}</b> to {name}.", "zh": "已授予 {name} 徽章 <b>{badge}</b>。"},
    "badge.revoked": {"en": "Revoked <b>{badge}</b> from {name}.", "zh": "已收回 {name} 的徽章 <b>{badge}</b>。"},
    "badge.already": {"en": "{name} already has <b>{badge}</b>.", "zh": "{name} 已经拥有 <b>{badge}</b>。"},
    "badge.not_held": {"en": "{name} doesn't have <b>{badge}</b>.", "zh": "{name} 没有 <b>{badge}</b>。"},
    # /season
    "season.usage": {"en": "Usage: /season start NAME or /season end", "zh": "用法：/season start 名称 或 /season end"},
    "season.started": {"en": "Season <b>{name}</b> has started. Good luck!", "zh": "赛季 <b>{name}</b> 开始了，加油！"},
    "season.ended": {"en": "Season <b>{name}</b> has ended.", "zh": "赛季 <b>{name}</b> 已结束。"},
    "season.open": {"en": "Season <b>{name}</b> is still running; end it first with /season end.",
                    "zh": "赛季 <b>{name}</b> 仍在进行，请先用 /season end 结束。"},
    "season.none": {"en": "No season is running.", "zh": "当前没有进行中的赛季。"},
    "season.bad_name": {"en": "Give the season a name: /season start NAME", "zh": "请为赛季命名：/season start 名称"},
    # /config
    "config.usage": {"en": "Usage: /config points.KEY VALUE. Keys: {keys}",
                     "zh": "用法：/config points.键 值。可用的键：{keys}"},
    "config.set": {"en": "points.{key} is now <code>{value}</code>.", "zh": "points.{key} 已设为 <code>{value}</code>。"},
    "config.bad": {"en": "Not changed: {error}", "zh": "未修改：{error}"},
    "config.other": {"en": "This /config only handles points.* keys. Keys: {keys}",
                     "zh": "此 /config 只处理 points.* 键。可用的键：{keys}"},
    # /modlog
    "modlog.title": {"en": "<b>Recent manual changes</b>", "zh": "<b>最近的手动修改</b>"},
    "modlog.row": {"en": "{at} {actor} {action} {target} {details}", "zh": "{at} {actor} {action} {target} {details}"},
    "modlog.empty": {"en": "No manual changes yet.", "zh": "暂无手动修改。"},
    # /solved
    "solved.usage": {"en": "Reply to the answer that solved your question with /solved.",
                     "zh": "请回复解决了你问题的那条回答并发送 /solved。"},
    "solved.not_asker": {"en": "Only the person who asked (or a moderator) can mark an answer as accepted.",
                         "zh": "只有提问者（或管理员）可以采纳回答。"},
    "solved.unknown": {"en": "I don't know that message, so I can't mark it.", "zh": "找不到那条消息，无法采纳。"},
    "solved.nothing": {"en": "That answer can't earn points (already accepted, your own, or a bot's).",
                       "zh": "该回答无法获得积分（已被采纳、是你自己的或来自机器人）。"},
    # command summaries (for /help)
    "sum.me": {"en": "your points, level, rank, streak and badges (moderators: anyone's, with @member)",
               "zh": "你的积分、等级、排名、连续天数和徽章（管理员可用 @成员 查看他人）"},
    "sum.leaderboard": {"en": "top members this week / month / season / all time", "zh": "本周/本月/赛季/总积分排行"},
    "sum.badges": {"en": "all badges and which you hold", "zh": "所有徽章及你已获得的"},
    "sum.solved": {"en": "mark the replied-to answer as accepted", "zh": "采纳所回复的回答"},
    "sum.points": {"en": "give or take points, with a reason", "zh": "增减积分（需写明原因）"},
    "sum.badge": {"en": "grant or revoke a badge", "zh": "授予或收回徽章"},
    "sum.season": {"en": "start or end a season", "zh": "开始或结束赛季"},
    "sum.pointsconfig": {"en": "change a points rule", "zh": "修改积分规则"},
    "sum.pointslog": {"en": "recent manual points changes", "zh": "最近的手动积分修改"},
}

BADGE_NAMES: dict[str, dict[str, str]] = {
    "first_message": {"en": "First words", "zh": "初次发言"},
    "first_accepted": {"en": "First accepted answer", "zh": "首个被采纳的回答"},
    "accepted_10": {"en": "Problem solver (10 accepted)", "zh": "解题高手（10 个被采纳）"},
    "streak_7": {"en": "7-day streak", "zh": "连续 7 天"},
    "streak_30": {"en": "30-day streak", "zh": "连续 30 天"},
    "helped_10": {"en": "Helped 10 members", "zh": "帮助了 10 位成员"},
    "first_completion": {"en": "First lesson done", "zh": "完成第一课"},
    "course_finisher": {"en": "Course finisher", "zh": "完成课程"},
    "first_week": {"en": "Great first week", "zh": "精彩的第一周"},
    "weekly_top_helper": {"en": "Top helper of the week", "zh": "本周最佳帮手"},
}

BADGE_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "first_message": {"en": "post your first counted message", "zh": "发出第一条计分消息"},
    "first_accepted": {"en": "have an answer accepted", "zh": "有一个回答被采纳"},
    "accepted_10": {"en": "have 10 answers accepted", "zh": "有 10 个回答被采纳"},
    "streak_7": {"en": "take part 7 days in a row", "zh": "连续 7 天参与"},
    "streak_30": {"en": "take part 30 days in a row", "zh": "连续 30 天参与"},
    "helped_10": {"en": "help 10 different members", "zh": "帮助 10 位不同的成员"},
    "first_completion": {"en": "complete a course item", "zh": "完成一个课程单元"},
    "course_finisher": {"en": "finish a whole course", "zh": "完成整门课程"},
    "first_week": {"en": "introduce yourself, ask a question and finish a first lesson in your first week",
                   "zh": "在第一周内自我介绍、提一个问题并完成第一课"},
    "weekly_top_helper": {"en": "help the most in a week", "zh": "一周内帮助最多"},
}


def badge_name(lang: str, key: str) -> str:
    """Display name of a badge (its key when unnamed)."""
    entry = BADGE_NAMES.get(key)
    return (entry.get(lang) or entry["en"]) if entry else key


def badge_description(lang: str, key: str) -> str:
    """What a badge is for, in ``lang``."""
    entry = BADGE_DESCRIPTIONS.get(key)
    return (entry.get(lang) or entry["en"]) if entry else ""
