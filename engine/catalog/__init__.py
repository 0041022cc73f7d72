"""The learning catalog: course units, lessons, articles, videos, links and threads.

``tables`` declares storage, ``items`` holds the pure logic (keys, tags, validation,
CSV/YAML import parsing), ``service`` the session-level operations (add/edit/remove,
completion, rating, import), and ``projection`` turns shared links and forum threads
into items inside the writer's transaction.
"""
