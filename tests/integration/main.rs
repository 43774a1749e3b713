//! The integration tests: one test binary, a module per area. Each module
//! drives the real `snapsync` binary on fixture specs and data under
//! `tests/fixtures/`; insta snapshots live in `snapshots/` (named
//! `integration__<module>__<test>.snap`).
//!
//! A new area is a new file here and one `mod` line below. A test copies a
//! fixture world, fills its stores, runs the binary and checks the whole
//! output:
//!
//! ```ignore
//! let world = World::copy("send-basic");
//! world.crm_items("jdoe", 10, None);
//! let out = world.snapsync().args(["plan", "--now", NOW]).run().success();
//! insta::assert_snapshot!(out.stdout());
//! ```
//!
//! `support` has the rest: `Snapsync` (the binary, with `Run`'s
//! assertions), `World` (`tests/fixtures/worlds/`), the PIM tools of the
//! virtualenv and a Radicale server (`support::radicale`).

mod apply;
mod caldav;
mod corpus;
mod crm;
mod demo;
mod discover;
mod doc_pages;
mod docs;
mod links_runs;
mod outcomes;
mod output_schemas;
mod pim_tools;
mod plan;
mod support;
mod validate;
