"""Triage: each incoming post's category, language and duplicate group."""
