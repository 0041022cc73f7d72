"""Members as people: privacy (opt-out, export, forget), linking accounts across platforms,
and the member lookups moderation commands share. Knows no chat platform or bot."""
