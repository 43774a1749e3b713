//! Source items a plan read in full, kept for an apply in the same process
//! so that it does not read them again.
//!
//! A source whose listing does not carry the items' metadata (a CalDAV
//! collection, a vdir folder) is read in full by the plan. An apply that
//! made its own plan takes those items from here instead of fetching them
//! again, after checking with one fresh listing of the collection that each
//! is still at the version the plan read (an ETag or a file's version
//! changes whenever its content does). An item whose version moved is
//! fetched and checked against its content hash, as every item of a saved
//! plan is.

use std::collections::HashMap;

use crate::endpoint::{Href, Version};
use crate::item::{Item, ItemType};

/// Items a cache holds at most: about 2 KB each in memory.
pub const CACHE_LIMIT: usize = 50_000;

/// One collection's items, by href: the version read and the item.
pub type CachedItems = HashMap<Href, (Version, Item)>;

/// The source items of a plan, by snapshot, link and item type.
#[derive(Debug, Default)]
pub struct SourceCache {
    slots: HashMap<(String, String, ItemType), CachedItems>,
    held: usize,
}

impl SourceCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        SourceCache::default()
    }

    /// Keeps an item the plan read, unless the cache is full.
    pub(crate) fn keep(&mut self, slot: &SlotKey<'_>, href: Href, version: Version, item: Item) {
        if self.held >= CACHE_LIMIT {
            return;
        }
        let items = self
            .slots
            .entry((slot.0.to_owned(), slot.1.to_owned(), slot.2))
            .or_default();
        if items.insert(href, (version, item)).is_none() {
            self.held += 1;
        }
    }

    /// The items kept for one section of a plan.
    #[must_use]
    pub fn items(&self, snapshot: &str, link: &str, item_type: ItemType) -> Option<&CachedItems> {
        self.slots
            .get(&(snapshot.to_owned(), link.to_owned(), item_type))
            .filter(|items| !items.is_empty())
    }

    /// How many items it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }
}

/// A section of a plan: snapshot, link and item type.
pub(crate) struct SlotKey<'a>(pub &'a str, pub &'a str, pub ItemType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_keeps_no_more_and_a_section_finds_its_own() {
        let item = crate::item::parse_any(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:t\r\n\
             DTSTAMP:20260101T000000Z\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
        )
        .items
        .remove(0);
        let mut cache = SourceCache::new();
        let slot = SlotKey("get", "jdoe", ItemType::Tasks);
        for i in 0..=CACHE_LIMIT {
            cache.keep(
                &slot,
                Href(format!("{i}.ics")),
                Version("1".into()),
                item.clone(),
            );
        }
        assert_eq!(cache.len(), CACHE_LIMIT);
        let items = cache
            .items("get", "jdoe", ItemType::Tasks)
            .expect("the slot");
        assert!(items.contains_key(&Href("0.ics".into())));
        assert!(!items.contains_key(&Href(format!("{CACHE_LIMIT}.ics"))));
        assert!(
            cache
                .items("get", "jdoe", ItemType::ScheduleItems)
                .is_none()
        );
        assert!(cache.items("send", "jdoe", ItemType::Tasks).is_none());
    }
}
