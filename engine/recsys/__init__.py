"""Cohort recommendations: collaborative filtering, cold start, exploration, learning paths.

Training (torch) lives in ``train``/``torch_model``/``tune``; the bot process imports only
``serve``, ``artifact``, ``content``, ``bandit``, ``paths``, ``feedback`` and
``evaluate``, which need numpy/scipy/scikit-learn/networkx. Importing this package
imports nothing, so neither side pays for the other.
"""
