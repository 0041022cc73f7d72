"""Both platforms at once: reuse the Telegram fake Bot API and the dpytest guild fixtures."""

from tests.discord.conftest import env  # noqa: F401
from tests.telegram.conftest import fake, make_adapter  # noqa: F401
