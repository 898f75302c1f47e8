"""The formats of the files a crawl writes, numbered so that ``crawler --version`` can state them
without loading the crawl (CHANGELOG.md says what each number promises)."""

# OUT/state.sqlite (PRAGMA user_version). crawler.frontier.sqlite_state upgrades every older format
# in place and refuses newer ones; its VERSION is this number, and its comment tells each format.
STATE_FORMAT = 6

# A line of records.jsonl (not written in each line). Within one format fields are only added, never
# removed, renamed or given another meaning or type; a change that breaks that raises the number.
RECORD_FORMAT = 1
