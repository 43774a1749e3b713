//! How snapsync names the items it creates, on every kind of target.
//!
//! A target that names items by file or URL (a vdir folder, a CalDAV
//! collection) gives a new item a name derived from its UID alone, so two
//! creates of one UID meet at one name and the second fails with
//! [`ErrorKind::Exists`](super::ErrorKind::Exists) instead of duplicating
//! the item. The rule lives here, not in one protocol, because every
//! protocol that names items follows it.

/// The longest UID used as a file name as it is; longer ones are hashed.
/// File names may have 255 bytes; this leaves room for the extension and
/// for the temporary file's prefix and suffix.
pub(crate) const MAX_PLAIN_UID_BYTES: usize = 200;

/// The file name snapsync gives to a new item with this UID: the UID itself
/// plus `.{extension}` when it is safe as a file name (ASCII letters,
/// digits and `-_.@+=`, not starting with a dot, at most 200 bytes), else
/// the 64 hex digits of the BLAKE3 hash of the UID plus `.{extension}`.
///
/// Deterministic, so that every create of one UID goes to the same file.
#[must_use]
pub fn file_name_for_uid(uid: &str, extension: &str) -> String {
    let safe = !uid.is_empty()
        && uid.len() <= MAX_PLAIN_UID_BYTES
        && !uid.starts_with('.')
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+=".contains(&b));
    if safe {
        format!("{uid}.{extension}")
    } else {
        format!("{}.{extension}", blake3::hash(uid.as_bytes()).to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_uids_are_their_own_file_names() {
        for safe in [
            "abc",
            "A-Z_0.9@example.com",
            "x+y=z",
            "a".repeat(MAX_PLAIN_UID_BYTES).as_str(),
        ] {
            assert_eq!(file_name_for_uid(safe, "vcf"), format!("{safe}.vcf"));
        }
    }
}
