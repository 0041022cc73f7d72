"""Templated, plausible member messages about the course, in English and Chinese."""

from __future__ import annotations

import numpy as np

from engine.sim.catalog import CatalogItem, _Lesson

REACTIONS = ("👍", "❤️", "🙏", "🔥", "😂")
REACTION_WEIGHTS = (0.5, 0.2, 0.15, 0.1, 0.05)

_FIRST = (
    "Alex",
    "Sam",
    "Maria",
    "Ivan",
    "Priya",
    "Jonas",
    "Fatima",
    "Kenji",
    "Lucia",
    "Omar",
    "Nora",
    "Diego",
)
_LAST = ("Smith", "Kowalski", "Okafor", "Garcia", "Nguyen", "Schmidt", "Haddad", "Rossi", "Tanaka", "Silva")
_SURNAME = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "婷", "杰", "晨", "雪")

_ASK_EN = (
    "I'm working through {title} and I'm stuck. {detail}",
    "Quick question from the {title} lesson. {detail}",
    "{detail} I read the {title} notes twice but still don't get it.",
)
_DETAIL_EN = (
    "My code runs but gives the wrong result.",
    "I get a TypeError and don't understand why.",
    "Is there a more Pythonic way?",
    "The example works, mine doesn't.",
)
_ASK_ZH = (
    "我在学「{title}」，卡住了。{detail}",
    "「{title}」这一课有个问题：{detail}",
    "{detail}「{title}」的笔记看了两遍还是不太懂。",
)
_DETAIL_ZH = (
    "代码能跑但结果不对。",
    "报了 TypeError，不知道为什么。",
    "有没有更 Pythonic 的写法？",
    "示例能跑，我的不行。",
)

_ANSWER_EN = (
    "Try to {task} step by step and print the intermediate values.",
    "You need to {task} before the loop, not inside it.",
    "This is a common one! To {task}, look at the standard library first.",
)
_ANSWER_ZH = (
    "试着一步步来{task}，把中间结果打印出来。",
    "要在循环之前{task}，不是在循环里面。",
    "这个很常见！想{task}的话先看看标准库。",
)
_THANKS_EN = ("Thanks, that worked! 🙏", "Oh, that makes sense now, thank you!", "Perfect, thanks a lot 👍")
_THANKS_ZH = ("谢谢，解决了！🙏", "原来如此，明白了，谢谢！", "太好了，多谢 👍")
_CHATTER_EN = (
    "Anyone joining the live session tonight?",
    "Good morning everyone ☀️",
    "Does anyone want to pair on the exercises this weekend?",
    "Reminder: the weekly challenge closes on Sunday.",
    "Finally understood list comprehensions 😅",
)
_CHATTER_ZH = (
    "今晚的直播有人来吗？",
    "大家早上好 ☀️",
    "周末有人想一起做练习吗？",
    "提醒：每周挑战周日截止。",
    "终于搞懂列表推导式了 😅",
)


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def member_name(index: int, chinese: bool, rng: np.random.Generator) -> str:
    """A display name; the index suffix keeps names unique without a lookup table."""
    if chinese:
        return f"{_pick(_SURNAME, rng)}{_pick(_GIVEN, rng)}{index}"
    return f"{_pick(_FIRST, rng)} {_pick(_LAST, rng)[0]}. {index}"


# Where the asker hit the problem: real questions about one task differ by their context,
# and a catalog of threads with identical titles cannot be told apart.
_CONTEXT_EN = (
    "in my grade calculator", "in a to-do list app", "for the weekly exercise", "in a CSV report",
    "in my budget tracker", "on Windows", "in a Jupyter notebook", "inside a class",
    "with user input", "in a small game", "for a web scraper", "with a list of dicts",
    "in my first project", "for the quiz checker", "with Python 3.12", "on a Raspberry Pi",
    "in a Telegram bot", "for a text adventure", "in the final project", "with large files",
)
_CONTEXT_ZH = (
    "（成绩计算器里）", "（待办清单程序）", "（本周练习）", "（CSV 报表）", "（记账小程序）",
    "（Windows 上）", "（Jupyter 笔记本里）", "（在类里面）", "（处理用户输入）", "（小游戏里）",
    "（写爬虫时）", "（字典列表）", "（第一个项目）", "（测验批改）", "（Python 3.12）",
    "（树莓派上）", "（Telegram 机器人）", "（文字冒险游戏）", "（期末项目）", "（大文件）",
)


# How the question is put: with the task and the context, a few thousand distinct titles.
_ASK_FORM_EN = ("How do I {task} {context}?", "How can I {task} {context}?", "What's the best way to {task} {context}?")
_ASK_FORM_ZH = ("怎么{task}{context}？", "如何{task}{context}？", "{context}想{task}，该怎么做？")


def _title(lesson: _Lesson, chinese: bool, which: int, context: str, form: str) -> str:
    task = lesson.tasks_zh[which] if chinese else lesson.tasks_en[which]
    if chinese and form.startswith("{context}"):
        context = context.strip("（）")
    return form.format(task=task, context=context)


def question(
    lesson: _Lesson, chinese: bool, rng: np.random.Generator, taken: set[str] | None = None
) -> tuple[str, str]:
    """(thread title, first message) for a "how do I ...?" question about ``lesson``.

    Titles already in ``taken`` are avoided (and the new one is added), so a simulated forum
    does not list the same question twice; past every combination a number tells them apart.
    """
    tags = " ".join(f"#{t}" for t in lesson.tags)
    taken = set() if taken is None else taken
    title = ""
    for _attempt in range(12):
        title = _title(lesson, chinese, int(rng.integers(2)), _pick(_CONTEXT_ZH if chinese else _CONTEXT_EN, rng),
                       _pick(_ASK_FORM_ZH if chinese else _ASK_FORM_EN, rng))
        if title not in taken:
            break
    else:  # the random draws keep hitting taken titles: take the first free combination
        free = (_title(lesson, chinese, which, context, form)
                for form in (_ASK_FORM_ZH if chinese else _ASK_FORM_EN)
                for context in (_CONTEXT_ZH if chinese else _CONTEXT_EN) for which in (0, 1))
        title = next((t for t in free if t not in taken), "")
        if not title:  # past every combination a number tells them apart
            base = _title(lesson, chinese, 0, _CONTEXT_ZH[0] if chinese else _CONTEXT_EN[0],
                          _ASK_FORM_ZH[0] if chinese else _ASK_FORM_EN[0])
            base, mark = base[:-1], base[-1]
            n = 2
            while f"{base} ({n}){mark}" in taken:
                n += 1
            title = f"{base} ({n}){mark}"
    taken.add(title)
    if chinese:
        body = _pick(_ASK_ZH, rng).format(title=lesson.title_zh, detail=_pick(_DETAIL_ZH, rng))
    else:
        body = _pick(_ASK_EN, rng).format(title=lesson.title_en, detail=_pick(_DETAIL_EN, rng))
    return title, f"{title} {body} {tags}"


def answer(lesson: _Lesson, url: str | None, chinese: bool, rng: np.random.Generator) -> str:
    """A helpful reply, optionally pointing at the lesson's catalog page."""
    which = int(rng.integers(2))
    if chinese:
        text = _pick(_ANSWER_ZH, rng).format(task=lesson.tasks_zh[which])
        return f"{text} 可以看看这一节：{url}" if url else text
    text = _pick(_ANSWER_EN, rng).format(task=lesson.tasks_en[which])
    return f"{text} This lesson explains it well: {url}" if url else text


def thanks(chinese: bool, rng: np.random.Generator) -> str:
    return _pick(_THANKS_ZH if chinese else _THANKS_EN, rng)


def chatter(chinese: bool, rng: np.random.Generator) -> str:
    return _pick(_CHATTER_ZH if chinese else _CHATTER_EN, rng)


def finished(item: CatalogItem, chinese: bool) -> str:
    return f"刚学完「{item.title}」🎉 {item.url}" if chinese else f"Just finished {item.title} 🎉 {item.url}"


def introduction(lesson: _Lesson, chinese: bool, language: str) -> str:
    if chinese:
        return f"大家好，我是新来的，准备从「{lesson.title_zh}」开始学。"
    return f"Hi everyone, I'm new here — starting with {lesson.title_en}."
