"""Points, levels, streaks, badges, leaderboards and seasons that reward helping.

``rules``, ``days`` (a community's timezone and local periods) and ``badges`` are pure;
``tables`` declares the storage; ``projection`` applies the rules inside the writer's
transaction; ``service`` holds reads and the entry points other capabilities call
(:func:`award_completion`, :func:`forget_member`, :func:`export_member`).
"""
