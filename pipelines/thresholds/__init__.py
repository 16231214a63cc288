"""thresholds"""
