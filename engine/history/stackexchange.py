"""Stack Exchange data dump directory (Posts/Comments/Votes/Users.xml) → events.

Mapping (``platform=STACKEXCHANGE``, ``community_id = chat_id = site``, the
directory name unless given):

* a question (PostTypeId 1) → ThreadOpened(thread_id = message_id = question id,
  title) and a MessagePosted(is_topic_start=True) whose text is the body as plain
  text; the question's tags follow as a last line of hashtags (``#bike-fit``),
  because events have no tags field.
* an answer (PostTypeId 2) → MessagePosted in the question's thread, replying to
  the question (``reply_to_user_id`` = the asker).
* a comment → MessagePosted with ``message_id "c<comment id>"`` (comment and post
  ids overlap), replying to its post, in that post's thread.
* an accepted answer (vote type 1) → ReactionAdded(emoji "✅", user_id = asker,
  message_id = answer, target_user_id = answerer): the product reads a ✅ by the
  asker as "accepted".
* up-votes (type 2) carry no voter → per post and per day, one
  ReactionCountChanged(emoji "👍", count = the post's running up-vote total).
  Down-votes and other vote types are counted as ignored.
* a user row → MemberJoined at the account's CreationDate; names come from Users.xml.
* rows without an owner (deleted users) are skipped with a reason; a question by a
  deleted user still opens its thread (``user_id ""``) so its answers have one.
* user -1 ("Community", the site's automation) is marked ``is_bot``.

Time order: dumps are sorted by Id, which is only roughly chronological. Each
file is streamed with ``iterparse`` through a sorting window of WINDOW rows and
the four streams are heap-merged by time, so events come out in time order
except rows displaced by more than WINDOW positions within their file (counted
in ``report.out_of_order``). Votes have dates only: they are placed at 23:59:59
of their day, which is never before the voted post. Cross-references (post owner,
thread, names, vote totals) live in a temporary SQLite file, not in memory, so
memory does not grow with the dump.
"""

from __future__ import annotations

import heapq
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from engine.events import (
    Event,
    MemberJoined,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history._common import CountingReader, find_handles, html_to_text, utc_from_iso, windowed_sort
from engine.history.report import EventStream, HistoryFormatError, ImportReport, ProgressCallback
from engine.text import clean_text, find_links

WINDOW = 2_000  # rows held per file to repair local disorder; the bicycles-meta dump needs < 800
ACCEPTED_EMOJI = "✅"
UPVOTE_EMOJI = "👍"
COMMUNITY_USER = "-1"
QUESTION, ANSWER = "1", "2"
_VOTE_NAMES = {"3": "downvote", "5": "favorite", "6": "close", "10": "deletion", "16": "approve-edit"}
# merge rank: at equal times users join before they post, posts precede comments on them
_USERS, _POSTS, _COMMENTS, _VOTES = range(4)


class _Row(NamedTuple):
    at: datetime
    rank: int
    position: int  # row number in its file, for skip reports
    kind: str  # "user", "post", "comment", "accepted", "upvotes"
    attrib: dict[str, str]


def _tags(raw: str) -> list[str]:
    """``"<a><b>"`` or ``"|a|b|"`` → ["a", "b"]."""
    if raw.startswith("<"):
        return [t for t in raw.strip("<>").split("><") if t]
    return [t for t in raw.split("|") if t]


class _DumpIndex:
    """Post owners/threads, user names and vote totals in a temporary SQLite file."""

    def __init__(self, directory: str) -> None:
        self._db = sqlite3.connect(Path(directory) / "index.sqlite")
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT) WITHOUT ROWID;
            CREATE TABLE posts (id TEXT PRIMARY KEY, owner TEXT, thread TEXT, type TEXT) WITHOUT ROWID;
            CREATE TABLE upvotes (post TEXT PRIMARY KEY, total INTEGER) WITHOUT ROWID;
            """
        )

    def add_users(self, rows: list[tuple[str, str]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO users VALUES (?, ?)", rows)

    def user_name(self, user_id: str) -> str:
        row = self._db.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row else ""

    def add_post(self, post_id: str, owner: str, thread: str, post_type: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?)", (post_id, owner, thread, post_type)
        )

    def post(self, post_id: str) -> tuple[str, str, str] | None:
        """(owner, thread, post type) of a post, owner "" for a deleted user."""
        return self._db.execute("SELECT owner, thread, type FROM posts WHERE id = ?", (post_id,)).fetchone()

    def add_upvotes(self, post_id: str, count: int) -> int:
        """Add ``count`` up-votes to a post; returns its new total."""
        self._db.execute(
            "INSERT INTO upvotes VALUES (?, ?) ON CONFLICT(post) DO UPDATE SET total = total + excluded.total",
            (post_id, count),
        )
        return self._db.execute("SELECT total FROM upvotes WHERE post = ?", (post_id,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()


class _StackExchangeImport:
    """One import run: owns the files, the index and the report."""

    def __init__(self, directory: Path, site: str, report: ImportReport, progress: ProgressCallback | None):
        self.dir = directory
        self.site = site
        self.report = report
        self.progress = progress
        self.index: _DumpIndex | None = None

    # -- reading ------------------------------------------------------------
    def _rows(self, name: str) -> Iterator[tuple[int, dict[str, str]]]:
        """(position, attributes) of each ``<row>`` of a dump file, in file order."""
        path = self.dir / name
        if not path.exists():
            return
        with path.open("rb") as raw:
            root: ET.Element | None = None
            index = 0
            try:
                for event, elem in ET.iterparse(
                    CountingReader(raw, self.report, self.progress), ("start", "end")
                ):
                    if event == "start":
                        root = elem if root is None else root
                        continue
                    if elem.tag == "row":
                        yield index, dict(elem.attrib)
                        index += 1
                        if root is not None:
                            root.clear()  # drop finished rows: memory stays flat
            except ET.ParseError as err:
                self.report.aborted = f"{name}: invalid XML ({err})"
                self.report.skip(name, f"#{index}", "", f"invalid XML, rest of file not read ({err})")

    def _timed(self, name: str, rank: int, kind: str) -> Iterator[_Row]:
        for index, attrib in self._rows(name):
            try:
                at = utc_from_iso(attrib["CreationDate"])
            except (KeyError, ValueError):
                self.report.skip(
                    name, attrib.get("Id", f"#{index}"), "CreationDate", "missing or invalid date"
                )
                continue
            yield _Row(at, rank, index, kind, attrib)

    def _post_rows(self) -> Iterator[_Row]:
        for row in self._timed("Posts.xml", _POSTS, "post"):
            attrib = row.attrib
            post_id, post_type = attrib.get("Id", ""), attrib.get("PostTypeId", "")
            if not post_id:
                self.report.skip("Posts.xml", f"#{row.position}", "Id", "row without Id")
                continue
            thread = post_id if post_type == QUESTION else attrib.get("ParentId", "")
            # indexed when read, so later rows resolve it whatever order the merge emits
            assert self.index is not None
            self.index.add_post(post_id, attrib.get("OwnerUserId", ""), thread, post_type)
            yield row

    def _vote_rows(self) -> Iterator[_Row]:
        """Accepted-answer votes one by one; up-votes summed per post per day."""
        day: datetime | None = None
        upvotes: dict[str, int] = {}
        for row in self._timed("Votes.xml", _VOTES, "vote"):
            # a vote's date has no time of day: place it at the day's end, never before the post
            at = row.at.replace(hour=23, minute=59, second=59, microsecond=0)
            if at != day:
                if day is not None:
                    yield from self._upvote_rows(day, upvotes)
                day, upvotes = at, {}
            vote_type, post = row.attrib.get("VoteTypeId", ""), row.attrib.get("PostId", "")
            if vote_type == "1":
                yield row._replace(at=at, kind="accepted")
            elif vote_type == "2" and post:
                upvotes[post] = upvotes.get(post, 0) + 1
            else:
                self.report.ignored_by_type[f"vote:{_VOTE_NAMES.get(vote_type, vote_type)}"] += 1
        if day is not None:
            yield from self._upvote_rows(day, upvotes)

    @staticmethod
    def _upvote_rows(day: datetime, upvotes: dict[str, int]) -> Iterator[_Row]:
        for post, count in upvotes.items():
            yield _Row(day, _VOTES, 0, "upvotes", {"PostId": post, "Count": str(count)})

    def _load_users(self) -> None:
        assert self.index is not None
        batch: list[tuple[str, str]] = []
        for _, attrib in self._rows("Users.xml"):
            if "Id" in attrib:
                batch.append((attrib["Id"], clean_text(attrib.get("DisplayName", ""))))
            if len(batch) >= 5_000:
                self.index.add_users(batch)
                batch = []
        self.index.add_users(batch)

    # -- mapping ------------------------------------------------------------
    def _base(self, at: datetime, user_id: str, **fields: Any) -> dict[str, Any]:
        assert self.index is not None
        return dict(
            platform=Platform.STACKEXCHANGE,
            community_id=self.site,
            chat_id=self.site,
            chat_title=self.site,
            at=at,
            user_id=user_id,
            user_name=self.index.user_name(user_id) if user_id else "",
            is_bot=user_id == COMMUNITY_USER,
            **fields,
        )

    def _events(self, row: _Row) -> Iterator[Event]:
        if row.kind == "user":
            if row.attrib.get("Id"):
                yield MemberJoined(**self._base(row.at, row.attrib["Id"]))
        elif row.kind == "post":
            yield from self._post(row)
        elif row.kind == "comment":
            yield from self._comment(row)
        elif row.kind == "accepted":
            yield from self._accepted(row)
        else:
            yield from self._upvotes(row)

    def _post(self, row: _Row) -> Iterator[Event]:
        attrib = row.attrib
        post_id, post_type, owner = attrib["Id"], attrib.get("PostTypeId"), attrib.get("OwnerUserId", "")
        if post_type not in (QUESTION, ANSWER):
            self.report.ignored_by_type[f"PostTypeId:{post_type}"] += 1
            return
        text, links = html_to_text(attrib.get("Body", ""))
        text = clean_text(text)
        if post_type == QUESTION:
            tags = _tags(attrib.get("Tags", ""))
            if tags:
                text = f"{text}\n\n" + " ".join(f"#{t}" for t in tags)
            title = clean_text(attrib.get("Title", ""))
            yield ThreadOpened(
                **self._base(row.at, owner), thread_id=post_id, message_id=post_id, title=title
            )
            fields: dict[str, Any] = {"thread_id": post_id, "is_topic_start": True}
        else:
            parent = attrib.get("ParentId", "")
            asked = self.index.post(parent) if self.index and parent else None
            if asked is None:
                self.report.skip("Posts.xml", post_id, "ParentId", "answer to a question not in the dump")
                return
            fields = {
                "thread_id": parent,
                "reply_to_message_id": parent,
                "reply_to_user_id": asked[0] or None,
            }
        if not owner:
            self.report.skip("Posts.xml", post_id, "OwnerUserId", "post by a deleted user")
            return
        yield MessagePosted(**self._base(row.at, owner), message_id=post_id, text=text, links=links, **fields)

    def _comment(self, row: _Row) -> Iterator[Event]:
        attrib = row.attrib
        comment_id, post_id, user_id = (
            attrib.get("Id", f"#{row.position}"),
            attrib.get("PostId", ""),
            attrib.get("UserId", ""),
        )
        post = self.index.post(post_id) if self.index and post_id else None
        if post is None:
            self.report.skip("Comments.xml", comment_id, "PostId", "comment on a post not in the dump")
            return
        if post[2] not in (QUESTION, ANSWER):
            self.report.ignored_by_type[f"comment on PostTypeId:{post[2]}"] += 1
            return
        if not user_id:
            self.report.skip("Comments.xml", comment_id, "UserId", "comment by a deleted user")
            return
        text = clean_text(attrib.get("Text", ""))
        yield MessagePosted(
            **self._base(row.at, user_id),
            message_id=f"c{comment_id}",
            thread_id=post[1],
            text=text,
            reply_to_message_id=post_id,
            reply_to_user_id=post[0] or None,
            links=find_links(text),
            mentions=find_handles(text),
        )

    def _accepted(self, row: _Row) -> Iterator[Event]:
        assert self.index is not None
        vote_id, answer_id = row.attrib.get("Id", f"#{row.position}"), row.attrib.get("PostId", "")
        answer = self.index.post(answer_id) if answer_id else None
        question = self.index.post(answer[1]) if answer and answer[1] else None
        if answer is None or question is None:
            self.report.skip("Votes.xml", vote_id, "PostId", "accepted answer not in the dump")
            return
        if not question[0]:
            self.report.skip("Votes.xml", vote_id, "PostId", "accepted by a deleted user")
            return
        yield ReactionAdded(
            **self._base(row.at, question[0]),
            message_id=answer_id,
            thread_id=answer[1],
            emoji=ACCEPTED_EMOJI,
            target_user_id=answer[0] or None,
        )

    def _upvotes(self, row: _Row) -> Iterator[Event]:
        assert self.index is not None
        post_id = row.attrib["PostId"]
        post = self.index.post(post_id)
        if post is None or post[2] not in (QUESTION, ANSWER):
            self.report.ignored_by_type["vote:upvote on a post not imported"] += 1
            return
        total = self.index.add_upvotes(post_id, int(row.attrib["Count"]))
        yield ReactionCountChanged(
            **self._base(row.at, ""), message_id=post_id, thread_id=post[1], emoji=UPVOTE_EMOJI, count=total
        )

    # -- driver -------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        self.report.bytes_total = sum(
            (self.dir / n).stat().st_size * (2 if n == "Users.xml" else 1)
            for n in ("Posts.xml", "Comments.xml", "Votes.xml", "Users.xml")
            if (self.dir / n).exists()
        )
        with tempfile.TemporaryDirectory(prefix="cohort-se-") as tmp:
            self.index = _DumpIndex(tmp)
            streams: list[Iterator[_Row]] = []
            try:
                self._load_users()
                streams = [
                    windowed_sort(self._timed("Users.xml", _USERS, "user"), _at, WINDOW),
                    windowed_sort(self._post_rows(), _at, WINDOW),
                    windowed_sort(self._timed("Comments.xml", _COMMENTS, "comment"), _at, WINDOW),
                    windowed_sort(self._vote_rows(), _at, WINDOW),
                ]
                for row in heapq.merge(*streams, key=lambda r: (r.at, r.rank)):
                    yield from self._events(row)
            finally:
                for stream in streams:  # close the XML files before the temp dir goes
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                self.index.close()


def _at(row: _Row) -> datetime:
    return row.at


def _check_dump(directory: Path) -> None:
    posts = directory / "Posts.xml"
    if not directory.is_dir():
        raise HistoryFormatError(
            f"{directory}: not a directory (a Stack Exchange dump is a directory of XML files)"
        )
    if not posts.is_file():
        raise HistoryFormatError(f"{directory}: no Posts.xml, not a Stack Exchange dump")
    try:
        with posts.open("rb") as raw:
            _, root = next(iter(ET.iterparse(raw, ("start",))))
    except (ET.ParseError, StopIteration) as err:
        raise HistoryFormatError(f"{posts}: not XML ({err})") from err
    if root.tag != "posts":
        raise HistoryFormatError(f"{posts}: root element is <{root.tag}>, expected <posts>")


def read_stackexchange_dump(
    directory: str | Path, *, site: str | None = None, progress: ProgressCallback | None = None
) -> EventStream:
    """Stream a Stack Exchange data dump directory as time-ordered events.

    ``site`` names the community (default: the directory name). Returns an
    :class:`EventStream` whose ``report`` fills in while iterating. Raises
    HistoryFormatError before any event if the directory has no ``Posts.xml``
    with a ``<posts>`` root. Comments.xml, Votes.xml and Users.xml are optional.
    """
    directory = Path(directory)
    _check_dump(directory)
    site = site or directory.resolve().name
    report = ImportReport(source=f"stackexchange:{site}")
    run = _StackExchangeImport(directory, site, report, progress)
    return EventStream(run.run(), report)
