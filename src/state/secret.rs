//! The secret key of a state and the keyed hash of sensitive values: a changed value is still
//! noticed, and the records alone (without the key, kept apart from them) do not give it away.
//!
//! May not touch: the records' storage; a backend keeps the key where it keeps it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// The HMAC key for sensitive values: beside the database, never inside it, so that an export
/// of the records cannot be used to guess secrets.
pub(super) const KEY_FILE: &str = "secret.key";

pub(super) const SENSITIVE_PREFIX: &str = "(sensitive) hmac-sha256:";

/// HMAC-SHA256 of a sensitive value under a secret key: equal values give equal hashes, so a
/// changed value is noticed, and without the key (kept apart from the records) the value cannot
/// be guessed from the hash.
pub fn sensitive_hash(key: &[u8], name: &str, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SENSITIVE_PREFIX}{hex}")
}

/// 32 random bytes: a new secret key.
pub(super) fn random_key() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

/// The key in `dir`'s `secret.key`, if there is a well-formed one (a local state migrated to
/// S3 takes its key along).
pub(super) fn existing_key(dir: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir.join(KEY_FILE))
        .ok()
        .filter(|k| k.len() == 32)
}

/// The state's secret key: 32 random bytes in a file only the owner can read, made once.
pub(super) fn secret_key(dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(key) if key.len() == 32 => return Ok(key),
        Ok(_) => {
            return Err(std::io::Error::other(
                "the key file is damaged; restore it (changed sensitive values then show as changed once)",
            ));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let key = random_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(&path)?.write_all(&key)?;
    Ok(key)
}
