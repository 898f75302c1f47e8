"""Network stage: the fetcher and what it needs (session, resolver, proxies, robots.txt, decoding, sitemaps)."""
