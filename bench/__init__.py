"""Benchmarks of Qianshou beside bare eventsourcing and raw SQL (issue 8)."""
