"""engine/points"""
