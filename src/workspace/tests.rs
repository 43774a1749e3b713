//! The workspace's own logic: which store wins and why, and the snapshots
//! asked for by name.

use std::path::{Path, PathBuf};

use super::*;

/// A folder of specs: the demo's, with or without its `Stores` resource.
fn specs(stores: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::create_dir_all(dir.path().join("vdir")).unwrap();
    for (name, text) in crate::demo::SPECS {
        let text: Vec<&str> = text
            .split("\n---\n")
            .filter(|document| stores || !document.contains("kind: Stores"))
            .collect();
        std::fs::write(specs.join(name), text.join("\n---\n")).unwrap();
    }
    (dir, specs)
}

fn given(path: &str, by_env: bool) -> Given {
    Given {
        path: PathBuf::from(path),
        by_env,
    }
}

fn load(specs: &Path, given: GivenStores) -> Workspace {
    let loaded = Workspace::load(&[specs.to_owned()], given, Utc::now()).unwrap();
    assert!(!loaded.validation.has_errors(), "{:?}", loaded.validation);
    loaded.workspace.unwrap()
}

#[test]
fn a_given_store_wins_over_the_specs_which_win_over_the_default() {
    let (_dir, with_stores) = specs(true);
    let from_specs = load(&with_stores, GivenStores::default());
    assert_eq!(from_specs.stores.crm, with_stores.join("../crm.sqlite"));
    assert_eq!(from_specs.stores.state, with_stores.join("../state.sqlite"));
    assert!(
        matches!(stores::why(Store::Crm, &from_specs.given, &from_specs.specs), Why::Declared(origin)
        if origin.file.ends_with("00-world.yaml"))
    );

    // The flag (or its variable: clap reads the flag first) wins, store by store.
    let given_crm = GivenStores {
        crm: Some(given("flag-crm.sqlite", false)),
        state: Some(given("env-state.sqlite", true)),
    };
    let both = load(&with_stores, given_crm);
    assert_eq!(both.stores.crm, Path::new("flag-crm.sqlite"));
    assert_eq!(both.stores.state, Path::new("env-state.sqlite"));
    assert_eq!(stores::why(Store::Crm, &both.given, &both.specs), Why::Flag);
    assert_eq!(
        stores::why(Store::State, &both.given, &both.specs),
        Why::Env
    );

    let (_other, without) = specs(false);
    let default = load(&without, GivenStores::default());
    assert_eq!(default.stores, Stores::default());
    assert_eq!(
        stores::why(Store::State, &default.given, &default.specs),
        Why::Undeclared(vec![without.clone()])
    );
    let nowhere = stores::why(
        Store::Crm,
        &GivenStores::default(),
        &[without.join("missing")],
    );
    assert_eq!(nowhere, Why::NoSpecs(vec![without.join("missing")]));
}

#[test]
fn a_command_without_specs_takes_the_given_store_then_the_specs_then_the_default() {
    let (_dir, with_stores) = specs(true);
    let none = GivenStores::default();
    let path = |given: &GivenStores, specs: &Path| {
        stores::path_without_catalog(Store::Crm, given, specs).unwrap()
    };
    assert_eq!(path(&none, &with_stores), with_stores.join("../crm.sqlite"));
    let flag = GivenStores {
        crm: Some(given("flag-crm.sqlite", false)),
        state: None,
    };
    assert_eq!(path(&flag, &with_stores), Path::new("flag-crm.sqlite"));
    assert_eq!(
        path(&none, &with_stores.join("missing")),
        Path::new(".snapsync/crm.sqlite")
    );
    // Specs with errors name no store: an error, not the default.
    std::fs::write(with_stores.join("99-broken.yaml"), "kind: Nonsense\n").unwrap();
    let error = stores::path_without_catalog(Store::State, &none, &with_stores).unwrap_err();
    assert!(
        matches!(
            error,
            WorkspaceError::InvalidSpecs {
                store: Store::State,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn an_unknown_snapshot_is_refused_with_the_nearest_name() {
    let (_dir, with_stores) = specs(true);
    let workspace = load(&with_stores, GivenStores::default());
    assert_eq!(workspace.snapshots(&[]).unwrap().len(), 4);
    let chosen = workspace.snapshots(&["send-upcoming".to_owned()]).unwrap();
    assert_eq!(chosen[0].name, "send-upcoming");
    let error = workspace
        .snapshots(&["send-al".to_owned()])
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "no snapshot named send-al in the specs; did you mean `send-all`? \
         (they define: send-all, send-upcoming, get-jdoe, send-contacts)"
    );
    let far = workspace.compile(&["zzz".to_owned()], None).unwrap_err();
    assert_eq!(
        far.to_string(),
        "no snapshot named zzz in the specs (they define: send-all, send-upcoming, get-jdoe, send-contacts)"
    );
}
