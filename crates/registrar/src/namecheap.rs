//! Namecheap adapter.
