"""What the benchmark scripts share: the corpus's seeds, a throwaway redis-server."""
