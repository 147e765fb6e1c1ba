//! The lineage: the identity of one state, made once when it is created, so that a saved plan
//! or a copied state is never applied to another state by mistake.

use sha2::{Digest, Sha256};
use std::path::Path;

/// A lineage is unique per state: from the path, the process and the time of creation.
pub(super) fn new_lineage(dir: &Path) -> String {
    let mut h = Sha256::new();
    h.update(dir.display().to_string().as_bytes());
    h.update(std::process::id().to_be_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(now.to_be_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
