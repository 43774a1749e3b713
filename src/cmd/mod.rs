//! The commands, one file each: read the command's options, call the
//! library, render. Each exports only its command; what they share is in
//! `crate::output`.

pub mod apply;
pub mod completions;
pub mod crm;
pub mod demo;
pub mod discover;
pub mod generate;
pub mod links;
pub mod man;
pub mod plan;
pub mod runs;
pub mod schema;
pub mod validate;
