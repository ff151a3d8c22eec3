"""What the identity middleware leaves on a request (``streams.web.app``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

USER_ID = web.RequestKey("user_id", str)  # "-" when the request has no known user
USER: web.RequestKey[Any] = web.RequestKey("user", object)  # engine.users.User, or None
