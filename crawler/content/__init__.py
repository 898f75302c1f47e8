"""Main content, Markdown, metadata, near-duplicates and chunks of HTML pages."""
