"""The commands around a crawl, each thin over the stages: ``check`` (a job file, and one page
through it), ``status`` (a crawl's progress, local or shared), ``merge`` (a shared job's shards),
``report`` (the HTML page), and the crawl command's own body (:mod:`~crawler.commands.crawl`:
one process, or ``--processes N`` workers of a shared job, :mod:`~crawler.commands.workers`).
``crawler.cli`` imports each only when its command runs; only the job options the crawl commands
share (:mod:`~crawler.commands.options`) load with it."""
