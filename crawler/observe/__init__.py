"""What the crawl tells about itself: :class:`~crawler.observe.stats.Stats` (its counters, as data)
and the texts made from it (:mod:`~crawler.observe.summary`: the progress line and the closing
summary), ``OUT/stats.jsonl`` (:mod:`~crawler.observe.statslog`), ``/metrics``
(:mod:`~crawler.observe.metrics`) and the report page (:mod:`~crawler.observe.report`)."""
