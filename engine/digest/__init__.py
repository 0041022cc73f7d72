"""Course-owner digests: KPIs, the social picture, segments, topics, unanswered questions,
at-risk members, catalog and moderation, rendered as Markdown, HTML, JSON and a PNG chart."""
