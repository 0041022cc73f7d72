"""``cohort doctor``'s checks that need no token: the database, the models, the catalog, the
scheduler, and how to connect a platform. Each returns findings; an error makes the exit
non-zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, text

from bot.adapters.base import Finding, Severity
from bot.settings import Settings
from engine.catalog.tables import CatalogItem
from engine.recsys.artifact import ArtifactError, read_manifest
from engine.recsys.community import community_dir
from engine.recsys.serve import latest_artifact
from engine.store import migrate
from engine.store.models import Community

STALE_MODEL = timedelta(days=3)  # nightly training should have replaced it by then


def local_findings(settings: Settings, engine: Engine, *, now: datetime | None = None) -> list[Finding]:
    """Every token-free check, in the order a person fixes them."""
    now = now or datetime.now(UTC)
    database = database_findings(engine)
    if any(f.severity == Severity.ERROR for f in database):
        return [*database, *token_findings(settings)]
    return [*database, *community_findings(settings, engine, now), *scheduler_findings(engine, now),
            *token_findings(settings)]


def database_findings(engine: Engine) -> list[Finding]:
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return [Finding("database", Severity.ERROR, f"cannot open {where}: {type(exc).__name__}",
                        "check storage.url (COHORT_STORAGE__URL) and that the server is running")]
    current, head = migrate.current(engine), migrate.head()
    if current != head:
        return [Finding("database", Severity.ERROR, f"{where} is at schema {current or '(empty)'}, the code needs {head}",
                        "run `cohort db upgrade` (`cohort run` does it at start)")]
    return [Finding("database", Severity.OK, f"{where} reachable, schema {head} (newest)")]


def community_findings(settings: Settings, engine: Engine, now: datetime) -> list[Finding]:
    """Per community: its catalog and its recommender model."""
    with engine.connect() as conn:
        communities = conn.execute(select(Community.id, Community.platform, Community.external_id)).all()
        items = dict(conn.execute(select(CatalogItem.community_id, func.count())
                                  .group_by(CatalogItem.community_id)).all())
    if not communities:
        return [Finding("communities", Severity.OK, "none yet: add the bot to a group, or `cohort import …`")]
    findings = []
    for cid, platform, external in communities:
        name = f"{platform}:{external}"
        count = int(items.get(cid, 0))
        findings.append(Finding(f"catalog {name}", Severity.OK if count else Severity.WARNING,
                                f"{count:,} items" if count else "empty: /recommend has nothing to suggest",
                                "" if count else "cohort catalog import FILE (or /item add URL in the chat)"))
        findings.append(_model_finding(name, community_dir(Path(settings.recsys.artifact_dir), cid), now))
    return findings


def _model_finding(name: str, directory: Path, now: datetime) -> Finding:
    check = f"model {name}"
    if not directory.is_dir() or not any(p.is_dir() and not p.name.startswith(".") for p in directory.iterdir()):
        return Finding(check, Severity.WARNING, "not trained yet: /recommend uses popularity",
                       "cohort recsys train (also runs nightly)")
    try:
        model = latest_artifact(directory)
    except ArtifactError as exc:
        return Finding(check, Severity.ERROR, f"no loadable artifact: {exc}",
                       "cohort recsys train; remove the broken directories it names")
    label = model.path.name if model.path is not None else "the newest artifact"
    trained = _trained_at(model.path) if model.path is not None else None
    age = f"trained {trained:%Y-%m-%d %H:%M} UTC" if trained else "training time unknown"
    if trained is not None and now - trained > STALE_MODEL:
        return Finding(check, Severity.WARNING, f"{label}: {age}, older than {STALE_MODEL.days} days",
                       "is the scheduler running? `cohort recsys train` refreshes it now")
    return Finding(check, Severity.OK, f"{label} loads ({age})")


def _trained_at(path: Path) -> datetime | None:
    try:
        manifest = read_manifest(path)
    except ArtifactError:
        return None
    raw = manifest.get("created_at") or manifest.get("trained_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def scheduler_findings(engine: Engine, now: datetime) -> list[Finding]:
    """The scheduled jobs as stored by the last running bot, and when each runs next."""
    from bot.scheduler import JOB_TABLE

    if JOB_TABLE not in inspect(engine).get_table_names():
        return [Finding("scheduler", Severity.OK, "no jobs stored yet: `cohort run` schedules them at start")]
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE} ORDER BY next_run_time")).all()
    if not rows:
        return [Finding("scheduler", Severity.OK, "no jobs stored yet: `cohort run` schedules them at start")]
    findings = []
    for job_id, next_run in rows:
        when = datetime.fromtimestamp(float(next_run), UTC) if next_run is not None else None
        if when is None:
            findings.append(Finding(f"job {job_id}", Severity.WARNING, "paused (no next run)"))
        elif when < now - timedelta(hours=1):
            findings.append(Finding(f"job {job_id}", Severity.WARNING,
                                    f"was due {when:%Y-%m-%d %H:%M} UTC and has not run: is a bot running?",
                                    "start `cohort run`; a missed run is made up once at start"))
        else:
            findings.append(Finding(f"job {job_id}", Severity.OK, f"next run {when:%Y-%m-%d %H:%M} UTC"))
    return findings


def token_findings(settings: Settings) -> list[Finding]:
    if settings.telegram_token is None and settings.discord_token is None:
        return [Finding("platforms", Severity.WARNING, "no TELEGRAM_TOKEN or DISCORD_TOKEN set: only the console runs",
                        "export TELEGRAM_TOKEN=… (from @BotFather) and/or DISCORD_TOKEN=… "
                        "(Developer Portal → Bot → Reset Token), then `cohort doctor` again"),
                MODERATION_RIGHTS_UNCHECKED]
    return []


# Said when no token is set: what `cohort doctor` checks of the bot's rights once there is one.
MODERATION_RIGHTS_UNCHECKED = Finding(
    "moderation rights", Severity.OK,
    "not checked without a token; with one, doctor asks each platform what the bot may do: on Telegram "
    "(getChatMember of itself in every known group) an administrator with 'Ban users' (can_restrict_members: "
    "/mute, /ban, /kick, antiflood) and 'Delete messages' (can_delete_messages: /purge, filters); on Discord "
    "the server permissions Timeout, Kick and Ban Members, Manage Messages and Manage Roles",
)
