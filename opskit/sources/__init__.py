"""Reading from internal tools over HTTP: the shared session (``ctx.http``) and a JSON API client."""
