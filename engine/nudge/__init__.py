"""Nudges: the daily campaign that DMs members at churn risk, with a randomized control
group, delivery through the Notifier and a measured uplift. Pure engine code: no chat SDK,
no bot imports; a job in the bot hands the composed messages to the Notifier."""
