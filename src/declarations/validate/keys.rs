//! Table keys: every key becomes an address, so none may be blank.

use super::{Checker, Entry, Merged};
use std::collections::BTreeMap;

/// Table keys become addresses (`repository.KEY`): an empty or blank key would make an address
/// nothing can name again (`state rm repository.` is not an address).
pub(super) fn check_table_keys(c: &mut Checker, merged: &Merged) {
    fn blank<T>(c: &mut Checker, table: &str, entries: &BTreeMap<String, Entry<T>>) {
        for (key, e) in entries {
            if key.trim().is_empty() {
                c.err(
                    e.file,
                    e.key_span.clone(),
                    format!("[{table}.\"{}\"] has an empty key", key.escape_default()),
                    "empty key",
                    format!(
                        "the key names the resource in plans and state (`{}.KEY`): give it a name, \
                         for example [{table}.hello]",
                        match table {
                            "accounts" => "account",
                            "account_groups" => "account_group",
                            "registries" => "registry",
                            "repositories" => "repository",
                            "images" => "image",
                            _ => "function",
                        }
                    ),
                );
            }
        }
    }
    blank(c, "accounts", &merged.accounts);
    blank(c, "account_groups", &merged.account_groups);
    blank(c, "registries", &merged.registries);
    blank(c, "repositories", &merged.repositories);
    blank(c, "images", &merged.images);
    blank(c, "functions", &merged.functions);
}
