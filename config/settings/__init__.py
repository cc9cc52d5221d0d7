"""Settings for the Todo MCP Gateway: every knob comes from the environment.

APP_ENV=production (the default) has no secret defaults: SECRET_KEY and ALLOWED_HOSTS must be
given. APP_ENV=development (what `make run` uses) fills them with safe local values and keeps
generated secrets in var/, which git ignores. DATABASE_URL and REDIS_URL switch from the
embedded defaults (SQLite file, in-process cache, filesystem task queue) to PostgreSQL and Redis.

The settings are split by concern; each part reads its own knobs. A new app's knobs go in a new
part imported below, after the parts it reads from.
"""

from config.settings.audit import *  # noqa: F403
from config.settings.base import *  # noqa: F403
from config.settings.gateway import *  # noqa: F403
from config.settings.oauth import *  # noqa: F403
from config.settings.perf import *  # noqa: F403
from config.settings.providers import *  # noqa: F403
from config.settings.quotas import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.web import *  # noqa: F403
