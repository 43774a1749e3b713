//! The integration tests: one test binary, a module per area. Each module
//! drives the real `snapsync` binary (see `support`) on fixture specs and
//! data under `tests/fixtures/`; insta snapshots live in `snapshots/`.
//!
//! A new area is a new file here and one `mod` line below.

mod apply;
mod caldav;
mod corpus;
mod crm;
mod demo;
mod discover;
mod docs;
mod links_runs;
mod pim_tools;
mod plan;
mod support;
mod validate;
