//! The CRM store (SQLite).
