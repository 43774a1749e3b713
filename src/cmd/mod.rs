//! The commands' glue: read options, call the library, render its results.
//! Only this layer and `main.rs` write to stdout and stderr.

pub mod crm;
pub mod generate;
