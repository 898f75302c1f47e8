"""The content-extractor study for issue 27: datasets, candidates, scores; run ``compare_extractors.py``."""
