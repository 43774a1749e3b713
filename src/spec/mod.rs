//! The spec language: YAML resources, their JSON Schema, and validation.
//!
//! The stages are types: YAML text is parsed once into a tree with spans
//! ([`yaml`]), checked against the JSON Schema and read as raw resources
//! ([`load`], [`types`]), then validated across files into a [`model::Catalog`]
//! ([`validate`]). Every problem on the way is a [`diagnostic::Diagnostic`]
//! that points at the node that caused it.

pub mod codes;
pub mod diagnostic;
pub mod load;
pub mod model;
pub mod schema;
pub mod types;
pub mod validate;
pub mod yaml;

pub use validate::{DeclaredStores, Validation, declared_stores, validate};
