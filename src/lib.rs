//! snapsync: declarative snapshots between a CRM and groupware servers.
//!
//! Specs (YAML) are loaded and validated by [`spec`], compiled into plans and
//! applied; [`workspace::Workspace`] is the front door that does all three
//! for a command. The library never prints: rendering takes a writer, and only the
//! binary touches stdout, stderr and exit codes.
#![forbid(unsafe_code)]
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod demo;
pub mod endpoint;
pub mod filter;
pub mod formats;
pub mod generate;
#[cfg(test)]
mod import_graph;
pub mod item;
pub mod outputs;
pub mod plan;
pub mod plural;
pub mod proposed_links;
pub mod spec;
pub mod sqlite;
pub mod state;
pub mod workspace;
