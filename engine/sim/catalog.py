"""A small Python programming course: the simulated community's learning catalog."""

from __future__ import annotations

from dataclasses import dataclass

BASE_URL = "https://learn.example.com/python"


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One lesson; ``prerequisites`` are keys of earlier lessons (the catalog is a DAG)."""

    key: str
    title: str
    url: str
    tags: tuple[str, ...]
    description: str
    prerequisites: tuple[str, ...]
    points: int


@dataclass(frozen=True, slots=True)
class _Lesson:
    key: str
    title_en: str
    title_zh: str
    tags: tuple[str, ...]
    prerequisites: tuple[str, ...]
    tasks_en: tuple[str, str]  # "How do I ...?" completions members ask about
    tasks_zh: tuple[str, str]


# In topological order: every prerequisite appears before the lessons needing it.
LESSONS: tuple[_Lesson, ...] = (
    _Lesson("setup", "Installing Python and an editor", "安装 Python 与编辑器", ("setup",), (),
            ("set up a virtual environment", "run a script from VS Code"), ("创建虚拟环境", "在 VS Code 里运行脚本")),
    _Lesson("basics", "Python basics: values and variables", "Python 基础：值与变量", ("basics",), ("setup",),
            ("convert a string to a number", "format a float with two decimals"), ("把字符串转成数字", "把浮点数保留两位小数")),
    _Lesson("control-flow", "Conditions and loops", "条件与循环", ("loops",), ("basics",),
            ("break out of two nested loops", "loop over a range backwards"), ("跳出两层嵌套循环", "倒序遍历 range")),
    _Lesson("collections", "Lists, dicts and sets", "列表、字典与集合", ("collections",), ("basics",),
            ("sort a list of dicts by a key", "count words with a dict"), ("按某个键给字典列表排序", "用字典统计单词个数")),
    _Lesson("functions", "Functions", "函数", ("functions",), ("control-flow",),
            ("return two values from a function", "use default arguments safely"), ("让函数返回两个值", "安全地使用默认参数")),
    _Lesson("errors", "Exceptions", "异常处理", ("exceptions",), ("functions",),
            ("catch two exception types at once", "raise a custom error"), ("同时捕获两种异常", "抛出自定义异常")),
    _Lesson("modules", "Modules and packages", "模块与包", ("packaging",), ("functions",),
            ("import a module from a sibling folder", "make my code a package"), ("从同级目录导入模块", "把代码做成一个包")),
    _Lesson("files", "Files and paths", "文件与路径", ("files",), ("errors", "collections"),
            ("read a file line by line", "join paths with pathlib"), ("逐行读取文件", "用 pathlib 拼接路径")),
    _Lesson("oop", "Classes and objects", "类与对象", ("oop",), ("functions", "collections"),
            ("add a method to a dataclass", "call the parent __init__"), ("给 dataclass 加方法", "调用父类的 __init__")),
    _Lesson("iterators", "Iterators and generators", "迭代器与生成器", ("generators",), ("functions", "collections"),
            ("write a generator that yields chunks", "chain two iterators"), ("写一个按块产出的生成器", "把两个迭代器串起来")),
    _Lesson("testing", "Testing with pytest", "用 pytest 测试", ("testing",), ("modules", "errors"),
            ("test that a function raises", "share a fixture between tests"), ("测试函数会抛异常", "在多个测试间共享 fixture")),
    _Lesson("typing", "Type hints", "类型注解", ("typing",), ("oop",),
            ("type a function that takes a callback", "annotate a dict of lists"), ("给回调参数加类型", "标注列表字典的类型")),
    _Lesson("asyncio-basics", "asyncio: coroutines and await", "asyncio：协程与 await", ("asyncio",), ("iterators", "errors"),
            ("await two coroutines at once", "call async code from sync code"), ("同时 await 两个协程", "在同步代码里调用异步函数")),
    _Lesson("asyncio-tasks", "asyncio tasks, timeouts and cancellation", "asyncio 任务、超时与取消", ("asyncio",),
            ("asyncio-basics",),
            ("cancel a task after five seconds", "limit concurrency with a semaphore"), ("五秒后取消任务", "用信号量限制并发")),
    _Lesson("http-clients", "HTTP clients with httpx", "用 httpx 调用 HTTP", ("http", "asyncio"), ("asyncio-basics", "modules"),
            ("retry a failed request", "send JSON in a POST"), ("失败时重试请求", "在 POST 里发送 JSON")),
    _Lesson("web-api", "Building a web API", "构建 Web API", ("web", "http"), ("http-clients", "typing", "testing"),
            ("validate a request body", "return a 404 properly"), ("校验请求体", "正确返回 404")),
)  # fmt: skip


def _depth(lesson: _Lesson, by_key: dict[str, _Lesson]) -> int:
    return 1 + max((_depth(by_key[p], by_key) for p in lesson.prerequisites), default=0)


def python_course(language: str = "en") -> list[CatalogItem]:
    """The course catalog, in topological order; titles in Chinese when ``language == "zh"``.

    ``"mixed"`` gives bilingual titles ("Functions / 函数"). Points grow with depth
    in the prerequisite graph. Raises ValueError for another language.
    """
    if language not in ("en", "zh", "mixed"):
        raise ValueError(f"language must be 'en', 'zh' or 'mixed', not {language!r}")
    by_key = {lesson.key: lesson for lesson in LESSONS}
    items = []
    for lesson in LESSONS:
        title = {"en": lesson.title_en, "zh": lesson.title_zh}.get(
            language, f"{lesson.title_en} / {lesson.title_zh}"
        )
        if language == "zh":
            description = f"本节学习：{lesson.tasks_zh[0]}、{lesson.tasks_zh[1]}等。"
        else:
            description = f"You will learn how to {lesson.tasks_en[0]} and {lesson.tasks_en[1]}."
        items.append(
            CatalogItem(
                key=lesson.key,
                title=title,
                url=f"{BASE_URL}/{lesson.key}",
                tags=lesson.tags,
                description=description,
                prerequisites=lesson.prerequisites,
                points=5 + 5 * _depth(lesson, by_key),
            )
        )
    return items
