//! Filters: which items a filtered snapshot processes.
//!
//! [`range`] turns the bounds a spec writes into instants, read in the spec's
//! time zone and resolved once per run against the run's clock.

pub mod range;
