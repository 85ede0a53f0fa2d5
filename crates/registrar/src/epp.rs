//! EPP adapter.
