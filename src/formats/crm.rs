//! `snapsync crm import | export | users --format json`.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::ByItemType;
use crate::item::ItemType;
use crate::outputs::{FormatVersion, JsonOutput};

/// What `snapsync crm import --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmImportJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::CrmImport.format_version() }>,
    /// The CRM store imported into.
    pub store: &'a Path,
    /// The CRM user the items belong to.
    pub user: &'a str,
    /// Files read.
    pub files: usize,
    /// Items created, updated and left unchanged, by type.
    pub items: ByItemType<ImportCountsJson>,
    /// Items and files that could not be imported (the import exits 3).
    pub problems: Vec<FileMessageJson>,
    /// UIDs more than one file holds: imported, the version read last kept.
    pub duplicates: Vec<FileMessageJson>,
    /// Components that are not items (journals, free/busy).
    pub skipped: Vec<FileMessageJson>,
    /// Files that were not UTF-8 and were read as Latin-1.
    pub latin1: &'a [PathBuf],
    /// Items imported as read that hold something that could not be read
    /// as written.
    pub warnings: Vec<FileMessageJson>,
    /// How long the import took, in seconds.
    pub seconds: f64,
}

/// How many items of one type an import created, updated or left alone.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportCountsJson {
    /// New UIDs.
    pub created: u64,
    /// Known UIDs with new content.
    pub updated: u64,
    /// Known UIDs with the same content.
    pub unchanged: u64,
}

/// Something said about one file.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileMessageJson {
    /// The file.
    pub file: PathBuf,
    /// What happened (with the line and the UID when known).
    pub message: String,
}

/// What `snapsync crm export --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmExportJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::CrmExport.format_version() }>,
    /// The CRM store exported from.
    pub store: &'a Path,
    /// The CRM user exported.
    pub user: &'a str,
    /// The folder written to (one vdir folder per item type below it).
    pub out: &'a Path,
    /// Files written, by type.
    pub files: ByItemType<u64>,
    /// Files that were there and were replaced.
    pub replaced: u64,
    /// Items that could not be written (the export exits 3).
    pub problems: Vec<ExportProblemJson>,
    /// How long the export took, in seconds.
    pub seconds: f64,
}

/// An item an export could not write.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportProblemJson {
    /// The item's type.
    pub item_type: ItemType,
    /// Its UID.
    pub uid: String,
    /// What went wrong.
    pub message: String,
}

/// What `snapsync crm users --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmUsersJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::CrmUsers.format_version() }>,
    /// The CRM store.
    pub store: &'a Path,
    /// Every user, with how many items of each type they hold.
    pub users: Vec<CrmUserJson>,
}

/// A CRM user and their items.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmUserJson {
    /// The user's name.
    pub name: String,
    /// Items held, by type.
    #[serde(flatten)]
    pub items: ByItemType<u64>,
}
