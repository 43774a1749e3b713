//! `snapsync generate`: seeded test data for the benchmarks.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::{GenerateArgs, GenerateLayout};
use crate::exit::Exit;
use snapsync::generate;
use snapsync::item::ItemType;

/// Items made per round, so memory stays small for millions of items.
const CHUNK: u64 = 10_000;

/// Runs `snapsync generate`.
pub fn run(args: &GenerateArgs) -> anyhow::Result<Exit> {
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    match args.layout {
        GenerateLayout::Vdir => vdir(args),
        GenerateLayout::Files => files(args),
    }?;
    Ok(Exit::Success)
}

/// The clock the items are generated at: `--now`, else the current time.
fn now(args: &GenerateArgs) -> chrono::DateTime<chrono::Utc> {
    args.now.unwrap_or_else(chrono::Utc::now)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn vdir(args: &GenerateArgs) -> anyhow::Result<()> {
    let now = now(args);
    for item_type in ItemType::ALL {
        let dir = args.out.join(item_type.as_str());
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut first = 0;
    while first < args.items {
        let count = CHUNK.min(args.items - first);
        for item in generate::items(args.seed, first, count, now) {
            let name = format!("{}.{}", item.uid, item.item_type.file_extension());
            write(
                &args.out.join(item.item_type.as_str()).join(name),
                &item.text,
            )?;
        }
        first += count;
    }
    Ok(())
}

fn files(args: &GenerateArgs) -> anyhow::Result<()> {
    let now = now(args);
    let per_file = args.per_file.max(1);
    let mut calendar = String::new();
    let mut cards = String::new();
    let mut file_number = 0u64;
    let flush = |calendar: &mut String, cards: &mut String, number: u64| -> anyhow::Result<()> {
        if !calendar.is_empty() {
            write(
                &args.out.join(format!("calendar-{number:05}.ics")),
                calendar,
            )?;
            calendar.clear();
        }
        if !cards.is_empty() {
            write(&args.out.join(format!("contacts-{number:05}.vcf")), cards)?;
            cards.clear();
        }
        Ok(())
    };
    let mut first = 0;
    while first < args.items {
        let count = CHUNK.min(args.items - first);
        for (offset, item) in (0..).zip(generate::items(args.seed, first, count, now)) {
            match item.item_type {
                ItemType::Contacts => cards.push_str(&item.text),
                _ => calendar.push_str(&item.text),
            }
            if (first + offset + 1) % per_file == 0 {
                flush(&mut calendar, &mut cards, file_number)?;
                file_number += 1;
            }
        }
        first += count;
    }
    flush(&mut calendar, &mut cards, file_number)?;
    let _ = std::io::stdout().flush();
    Ok(())
}
