"""Social analysis of a community's log: its graph (influencers, bridges, sub-communities,
isolated newcomers), questions and answers, member segments and trending topics. Pure:
no chat SDK, no bot; reads the store only in :mod:`engine.social.log`."""
