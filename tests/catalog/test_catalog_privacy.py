"""A member's completions and ratings are in /mydata's export and gone after /forget."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.bootstrap import App
from engine.catalog import service
from engine.catalog.items import ItemSpec
from engine.catalog.tables import CatalogCompletion, CatalogRating
from engine.members import privacy
from engine.store.models import Account, Community
from tests.doubles.events import at, message
from tests.doubles.messenger import RecordingMessenger


async def test_catalog_data_is_exported_and_forgotten(app: App) -> None:
    await app.dispatch(message("learner", "hello, I am new here"), RecordingMessenger())

    def setup(s):
        cid = s.execute(select(Community.id)).scalar_one()
        mid = s.execute(select(Account.member_id)).scalar_one()
        item = service.add_item(s, cid, ItemSpec(key="asyncio", title="Asyncio in depth"), at=at(1))
        service.complete(s, cid, mid, item, at(2))
        service.rate(s, cid, mid, item, 5, at(3))
        return mid

    mid = await app.store.write(setup)
    exported = app.store.read_sync(lambda s: privacy.export_member(s, mid, app.privacy_hooks))
    text = json.dumps(exported, default=str)
    assert "Asyncio in depth" in text and '"stars": 5' in text

    await app.store.write(lambda s: privacy.forget_member(s, mid, app.privacy_hooks))

    def left(s):
        return (s.execute(select(func.count()).select_from(CatalogCompletion)).scalar_one(),
                s.execute(select(func.count()).select_from(CatalogRating)).scalar_one())

    assert app.store.read_sync(left) == (0, 0)
