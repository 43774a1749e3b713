//! vdir targets.
