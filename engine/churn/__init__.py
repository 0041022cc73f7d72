"""engine/churn"""
