"""Scheduling stage: which host may start a request now (scheduler) and per-host politeness (host limiter)."""
