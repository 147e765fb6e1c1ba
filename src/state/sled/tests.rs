use super::*;
use crate::cloud::RepositoryConfig;
use crate::model::{TagMutability, Target};
use crate::state::lock::hostname;

fn record() -> Record {
    Record::Repository {
        target: Target {
            account: "registry".into(),
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
        },
        config: RepositoryConfig {
            name: "hello".into(),
            tag_mutability: TagMutability::Immutable,
            scan_on_push: true,
            tags: Default::default(),
        },
        force_delete: false,
    }
}

#[test]
fn writes_survive_reopen_and_bump_the_serial() {
    let dir = tempfile::tempdir().unwrap();
    let addr: Address = "repository.hello".parse().unwrap();
    let lineage = {
        let s = SledState::open(dir.path(), "test").unwrap();
        s.put(&addr, &record()).unwrap();
        s.put(&addr, &record()).unwrap(); // unchanged: no new serial
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.serial, 1);
        snap.lineage
    };
    let s = SledState::open(dir.path(), "test").unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.lineage, lineage);
    assert_eq!(snap.resources.get(&addr), Some(&record()));
    s.remove(&addr).unwrap();
    assert!(s.snapshot().unwrap().resources.is_empty());
    assert_eq!(s.snapshot().unwrap().serial, 2);
}

/// A lock that is busy with no live holder recorded is one being released (the database of a
/// store just dropped, whose threads have not let go of the file yet): the open waits for it.
#[test]
fn a_lock_being_released_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledState::open(dir.path(), "test").unwrap());
    // The database's file lock held by something that records no holder, let go a moment later.
    let raw = ::sled::Config::new()
        .path(dir.path().join("db"))
        .flush_every_ms(None)
        .open()
        .unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(raw);
    });
    let opened = SledState::open(dir.path(), "test");
    releaser.join().unwrap();
    assert!(opened.is_ok(), "{:?}", opened.err());
}

#[test]
fn a_second_open_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledState::open(dir.path(), "apply").unwrap();
    let err = SledState::open(dir.path(), "plan")
        .err()
        .expect("second open must fail");
    let text = err.to_string();
    assert!(text.contains("in use by another ferry process"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("ferry apply"), "{text}");
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SledState::open(dir.path(), "test").unwrap();
        s.meta
            .insert("format_version", &(FORMAT_VERSION + 1).to_be_bytes())
            .unwrap();
        s.db.flush().unwrap();
    }
    let err = SledState::open(dir.path(), "test").err().expect("refused");
    assert!(matches!(err, StateError::NewerFormat { .. }), "{err}");
}

#[test]
fn a_foreign_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = ::sled::Config::new()
            .path(dir.path().join("db"))
            .open()
            .unwrap();
        db.open_tree("resources").unwrap().insert("x", "y").unwrap();
        db.flush().unwrap();
    }
    let err = SledState::open(dir.path(), "test").err().expect("refused");
    assert!(err.to_string().contains("not a ferry state"), "{err}");
    let db = ::sled::Config::new()
        .path(dir.path().join("db"))
        .open()
        .unwrap();
    assert!(
        db.open_tree("meta")
            .unwrap()
            .get("lineage")
            .unwrap()
            .is_none(),
        "must not be written"
    );
}

#[test]
fn garbage_where_the_database_should_be_is_an_error_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = b"this is not a sled database".repeat(100);
    std::fs::write(dir.path().join("db"), &garbage).unwrap();
    let err = SledState::open(dir.path(), "test").err().expect("refused");
    assert!(err.to_string().contains("cannot open the state"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("db")).unwrap(), garbage);
}

#[test]
fn a_sled_database_of_someone_else_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    {
        // No flusher thread, so the lock is released when `db` is dropped.
        let db = ::sled::Config::new()
            .path(dir.path().join("db"))
            .flush_every_ms(None)
            .open()
            .unwrap();
        db.open_tree("orders").unwrap().insert("k", "v").unwrap();
        db.flush().unwrap();
    }
    let err = SledState::open(dir.path(), "test").err().expect("refused");
    assert!(
        err.to_string().contains("not ferry's (trees orders)"),
        "{err}"
    );
    let db = ::sled::open(dir.path().join("db")).unwrap();
    let names: Vec<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
    assert!(
        !names.iter().any(|n| n == b"meta" || n == b"resources"),
        "ferry created its trees in a foreign database"
    );
    assert_eq!(
        db.open_tree("orders").unwrap().get("k").unwrap().unwrap(),
        "v"
    );
}

#[test]
fn in_an_existing_open_directory_the_database_and_holder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    std::fs::set_permissions(
        dir.path().join("db"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let _s = SledState::open(dir.path(), "test").unwrap();
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("db"), 0o700);
    assert_eq!(mode(HOLDER_FILE), 0o600);
    assert_eq!(mode(KEY_FILE), 0o600);
    assert_eq!(
        mode("."),
        0o755,
        "a directory ferry did not create keeps its mode"
    );
}

#[test]
fn a_refusal_waits_a_moment_for_the_new_holder_to_name_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    // A killed predecessor's record, and a new holder that took the lock but has not yet
    // written its own.
    let dead = serde_json::json!({"lock_id": "dead", "pid": 999999, "user": "ci",
        "host": hostname(), "operation": "apply", "started": 1});
    std::fs::write(dir.path().join(HOLDER_FILE), dead.to_string()).unwrap();
    let _db = ::sled::Config::new()
        .path(dir.path().join("db"))
        .flush_every_ms(None)
        .open()
        .unwrap();
    let record = dir.path().join(HOLDER_FILE);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let live = serde_json::json!({"lock_id": "live", "pid": std::process::id(),
            "user": "dev", "host": hostname(), "operation": "apply", "started": 2});
        std::fs::write(record, live.to_string()).unwrap();
    });
    let err = SledState::open(dir.path(), "plan").err().expect("locked");
    writer.join().unwrap();
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(!text.contains("999999"), "{text}");
}

#[test]
fn a_new_state_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let _s = SledState::open(&state_dir, "test").unwrap();
    let mode = std::fs::metadata(&state_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn the_journal_tells_an_interrupted_apply_and_what_was_in_flight() {
    use crate::state::{JournalEntry, Phase, interruption};
    let dir = tempfile::tempdir().unwrap();
    let s = SledState::open(dir.path(), "test").unwrap();
    let f: Address = "function.f".parse().unwrap();
    let r: Address = "repository.r".parse().unwrap();
    let entry = |phase, step: Option<(usize, &Address)>| JournalEntry {
        apply: "a1".into(),
        phase,
        step: step.map(|(i, _)| i),
        address: step.map(|(_, a)| a.clone()),
        detail: String::new(),
    };
    s.journal_append(&entry(Phase::Started, None)).unwrap();
    s.journal_append(&entry(Phase::Intent, Some((0, &r))))
        .unwrap();
    s.journal_append(&entry(Phase::Done, Some((0, &r))))
        .unwrap();
    s.journal_append(&entry(Phase::Intent, Some((1, &f))))
        .unwrap();
    let i = interruption(&s.journal().unwrap()).expect("interrupted");
    assert_eq!(i.in_flight, vec![f.clone()]);
    assert!(!i.rolling_back);
    s.journal_append(&entry(Phase::Failed, Some((1, &f))))
        .unwrap();
    s.journal_append(&entry(Phase::UndoIntent, Some((0, &r))))
        .unwrap();
    let i = interruption(&s.journal().unwrap()).expect("interrupted");
    assert!(i.rolling_back);
    assert_eq!(i.in_flight, vec![r.clone()]);
    s.journal_append(&entry(Phase::UndoDone, Some((0, &r))))
        .unwrap();
    s.journal_append(&entry(Phase::Finished, None)).unwrap();
    assert_eq!(interruption(&s.journal().unwrap()), None);
    // A replace keeps exactly the entries given, in order, and survives a reopen.
    let kept = [entry(Phase::Uncertain, Some((1, &f)))];
    s.journal_replace(&kept).unwrap();
    s.journal_append(&entry(Phase::Started, None)).unwrap();
    drop(s);
    let s = SledState::open(dir.path(), "test").unwrap();
    assert_eq!(
        s.journal().unwrap(),
        vec![kept[0].clone(), entry(Phase::Started, None)]
    );
    s.journal_clear().unwrap();
    assert!(s.journal().unwrap().is_empty());
}

#[test]
fn a_dead_holder_is_noticed_and_its_record_can_be_removed_by_id() {
    let dir = tempfile::tempdir().unwrap();
    // A holder record left behind by a process that was killed.
    std::fs::create_dir_all(dir.path()).unwrap();
    let dead = serde_json::json!({"lock_id": "deadbeef0001", "pid": 999999, "user": "ci",
        "host": "runner", "operation": "apply", "started": 1});
    std::fs::write(dir.path().join(HOLDER_FILE), dead.to_string()).unwrap();
    let err = force_unlock(dir.path(), "wrong").unwrap_err();
    assert!(
        err.to_string().contains("no lock has the id wrong"),
        "{err}"
    );
    let said = force_unlock(dir.path(), "deadbeef0001").unwrap();
    assert!(
        said.contains("belonged to a process that is gone"),
        "{said}"
    );
    assert!(
        force_unlock(dir.path(), "deadbeef0001").is_err(),
        "nothing left to unlock"
    );
    // Opening over a stale record says so.
    std::fs::write(dir.path().join(HOLDER_FILE), dead.to_string()).unwrap();
    let s = SledState::open(dir.path(), "plan").unwrap();
    assert!(
        s.stale_holder.as_deref().unwrap().contains("pid 999999"),
        "{:?}",
        s.stale_holder
    );
    // A live holder is not forced.
    let err = force_unlock(dir.path(), &s.lock_id).unwrap_err();
    assert!(
        err.to_string().contains("held by a running process"),
        "{err}"
    );
}

#[test]
fn sensitive_values_are_stored_as_hmacs_under_a_private_key_kept_outside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let record = Record::Function {
        target: Target {
            account: "prod".into(),
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
        },
        repository: "hello".into(),
        config: crate::cloud::test_config("hunter2"),
        sensitive: ["DB_PASSWORD".to_string()].into(),
    };
    let addr: Address = "function.f".parse().unwrap();
    let stored = {
        let s = SledState::open(dir.path(), "test").unwrap();
        s.put(&addr, &record).unwrap();
        s.snapshot().unwrap().resources[&addr].clone()
    };
    let Record::Function { config, .. } = &stored else {
        panic!()
    };
    let hash = &config.environment["DB_PASSWORD"];
    assert!(
        hash.starts_with("(sensitive) hmac-sha256:") && !hash.contains("hunter2"),
        "{hash}"
    );
    let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(key.len(), 32);
    let mode = std::fs::metadata(dir.path().join(KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        *hash,
        crate::state::sensitive_hash(&key, "DB_PASSWORD", "hunter2")
    );
    assert_ne!(
        *hash,
        crate::state::sensitive_hash(b"another key", "DB_PASSWORD", "hunter2")
    );
    // The key survives reopening, so unchanged values keep their hash.
    let s = SledState::open(dir.path(), "test").unwrap();
    assert_eq!(s.snapshot().unwrap().secret_key, key);
    // The database files never hold the value.
    for entry in std::fs::read_dir(dir.path().join("db")).unwrap().flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("hunter2"));
        }
    }
}

#[test]
fn the_file_of_each_address_survives_reopen_follows_a_move_and_goes_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let a: Address = "repository.hello".parse().unwrap();
    let b: Address = "repository.other".parse().unwrap();
    {
        let s = SledState::open(dir.path(), "test").unwrap();
        s.put(&a, &record()).unwrap();
        let serial = s.snapshot().unwrap().serial;
        s.record_files(&[(a.clone(), "fns/ferry.toml".to_string())].into())
            .unwrap();
        assert_eq!(s.snapshot().unwrap().serial, serial, "no resource changed");
    }
    let s = SledState::open(dir.path(), "test").unwrap();
    assert_eq!(
        s.snapshot()
            .unwrap()
            .declared_in
            .get(&a)
            .map(String::as_str),
        Some("fns/ferry.toml")
    );
    s.rename(&[(a.clone(), b.clone())]).unwrap();
    let snap = s.snapshot().unwrap();
    assert!(!snap.declared_in.contains_key(&a));
    assert_eq!(
        snap.declared_in.get(&b).map(String::as_str),
        Some("fns/ferry.toml")
    );
    s.remove(&b).unwrap();
    s.put(&b, &record()).unwrap();
    assert!(
        s.snapshot().unwrap().declared_in.is_empty(),
        "a removed record forgets its file"
    );
}

#[test]
fn the_holder_record_is_never_written_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, "precious").unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("state").join(HOLDER_FILE)).unwrap();
    let err = SledState::open(&dir.path().join("state"), "test")
        .err()
        .expect("refused");
    assert!(err.to_string().contains("is a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious");
    // Without the link the record is written whole, by a rename, and private.
    std::fs::remove_file(dir.path().join("state").join(HOLDER_FILE)).unwrap();
    let s = SledState::open(&dir.path().join("state"), "test").unwrap();
    let text = std::fs::read_to_string(dir.path().join("state").join(HOLDER_FILE)).unwrap();
    assert!(text.contains(&s.lock_id), "{text}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_working_copy_is_overwritten_whole_and_keeps_a_given_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let kept: Address = "repository.hello".parse().unwrap();
    let gone: Address = "repository.gone".parse().unwrap();
    let key = vec![7u8; 32];
    let s = SledState::open_keyed(dir.path(), "test", Some(key.clone())).unwrap();
    s.put(&gone, &record()).unwrap();
    s.record_files(&[(gone.clone(), "old.toml".to_string())].into())
        .unwrap();
    let mut shared = Snapshot {
        lineage: "shared-lineage".into(),
        serial: 41,
        ..Snapshot::default()
    };
    shared.resources.insert(kept.clone(), record());
    shared.declared_in.insert(kept.clone(), "ferry.toml".into());
    let journal = vec![JournalEntry {
        apply: "a1".into(),
        phase: crate::state::Phase::Intent,
        step: Some(0),
        address: Some(kept.clone()),
        detail: String::new(),
    }];
    s.overwrite(&shared, &journal).unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!((snap.lineage.as_str(), snap.serial), ("shared-lineage", 41));
    assert_eq!(snap.resources.keys().collect::<Vec<_>>(), vec![&kept]);
    assert_eq!(snap.declared_in, shared.declared_in);
    assert_eq!(snap.secret_key, key);
    assert_eq!(s.journal().unwrap(), journal);
    // The shared key is used, and no local key file is made.
    assert!(!dir.path().join(KEY_FILE).exists());
    drop(s);
    let again = SledState::open_keyed(dir.path(), "test", Some(key)).unwrap();
    assert_eq!(again.snapshot().unwrap().serial, 41);
}
