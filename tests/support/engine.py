"""Re-exports ``harness.engine``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.engine import (
    REPO,
    Engine,
    expected_prompt_tokens,
    prefix_cache_counts,
    settled_prefix_cache_counts,
    start_engine,
    tiny_dir,
    tree_rss_bytes,
)

__all__ = [
    "Engine",
    "REPO",
    "expected_prompt_tokens",
    "prefix_cache_counts",
    "settled_prefix_cache_counts",
    "start_engine",
    "tiny_dir",
    "tree_rss_bytes",
]
