"""Presentation: findings, changes and comparisons as text, HTML, plots and shareable reports."""
