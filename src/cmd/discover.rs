//! `snapsync discover`: find users' collections on a CalDAV/CardDAV target
//! and print the `links:` block that binds them.

use std::io::{self, Write};

use anyhow::bail;
use chrono::Utc;

use crate::cli::{DiscoverArgs, DiscoverFormat};
use crate::exit::Exit;
use crate::output::Output;
use snapsync::endpoint::ErrorKind;
use snapsync::endpoint::caldav::discover::{CollectionKind, UserCollections};
use snapsync::endpoint::caldav::{DavClient, shown_url};
use snapsync::plural;
use snapsync::proposed_links::{self, ProposedLink};
use snapsync::spec::model::TargetLocation;

/// Runs `snapsync discover`.
pub fn run(output: &Output, args: &DiscoverArgs) -> anyhow::Result<Exit> {
    let workspace = output.load(&args.paths, Utc::now())?;
    let target = workspace.target(&args.target)?;
    let location = match &target.location {
        TargetLocation::Caldav(location) => location,
        TargetLocation::Vdir { path } => bail!(
            "target {} is a vdir target (the folder {}): discover asks a CalDAV/CardDAV server \
             for its users' collections, so it needs a target of `type: caldav`",
            target.name,
            path.display()
        ),
    };
    if location.insecure_skip_verify {
        tracing::warn!(
            target = %target.name,
            "TLS certificates are NOT verified for this target (insecureSkipVerify in {}): \
             anyone on the network path can read and change what is sent",
            target.origin
        );
    }
    // Validation checked the URL; never print what it could not parse.
    let url = url::Url::parse(&location.url)
        .map_or_else(|_| "(an invalid URL)".to_owned(), |u| shown_url(&u));
    let client = DavClient::open(&target.name, location)?;
    let discovery = match snapsync::endpoint::caldav::discover::discover(
        &client,
        &target.name,
        &location.url,
        &args.users,
    ) {
        Ok(discovery) => discovery,
        Err(error) if error.kind == ErrorKind::Transient => bail!(
            "cannot reach the server of target {} at {url}: {error}",
            target.name
        ),
        Err(error) => return Err(error.into()),
    };
    let asked = discovery.users.len();
    let mut found: Vec<(String, UserCollections)> = Vec::new();
    let mut failures = Vec::new();
    for user in discovery.users {
        match user.outcome {
            Ok(collections) => found.push((user.user, collections)),
            Err(error) => failures.push(error),
        }
    }
    let mut err = io::stderr().lock();
    if !failures.is_empty() {
        for failure in &failures {
            writeln!(err, "error: {failure}")?;
        }
        if asked > 1 {
            writeln!(
                err,
                "error: no links printed: {} of {asked} users could not be looked up",
                failures.len()
            )?;
        }
        return Ok(Exit::Failure);
    }
    let links = proposed_links::propose(&found);
    if !output.quiet() {
        for link in &links {
            writeln!(err, "{}", summary(link))?;
        }
    }
    drop(err);
    let mut out = io::stdout().lock();
    match args.format {
        DiscoverFormat::Yaml => {
            let header = vec![
                format!(
                    "Found by `snapsync discover {}` on {url} (login: {}).",
                    target.name, discovery.login
                ),
                "Paste under the target's `spec:`, in place of its `links:`.".to_owned(),
            ];
            proposed_links::write_yaml(&mut out, &header, &links)?;
        }
        DiscoverFormat::Json => {
            let value = proposed_links::json(&target.name, &url, &discovery.login, &links);
            // Written whole, so that a closed pipe is an io::Error.
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
    }
    Ok(Exit::Success)
}

/// `alice: 2 calendars, 1 address book`, for stderr.
fn summary(link: &ProposedLink) -> String {
    let calendars = link
        .collections
        .iter()
        .filter(|c| matches!(c.kind, CollectionKind::Calendar { .. }))
        .count();
    let books = link.collections.len() - calendars;
    format!(
        "{}: {}, {}",
        link.user,
        plural::count(calendars, "calendar", "calendars"),
        plural::count(books, "address book", "address books")
    )
}
