"""Parsing stage: HTML to title, links and items, inline or in a forked parser process."""
