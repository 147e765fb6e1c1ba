//! `ferry fmt`'s canonical layout of a declarations file, by toml_edit: the document is parsed
//! and only its whitespace is changed (toml_edit prints it), so keys, values and comments stay
//! as written. Canonical: no indentation, `key = value`, one space before a trailing comment,
//! one blank line before each table header and at most one anywhere, arrays and inline tables
//! without comments laid out by toml_edit, one final line break. No file or AWS access.

use toml_edit::{DocumentMut, Item, RawString, Table, Value};

/// Why a file cannot be formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not TOML: toml_edit's message names the line and column and shows the text.
    #[error("{0}")]
    Parse(#[from] toml_edit::TomlError),
    /// The layout would change what the file says: a bug of the formatter, nothing is written.
    #[error(
        "formatting would change what the file means; it was left as it is (a bug in ferry fmt)"
    )]
    MeaningChanged,
}

/// The canonical layout of `text`; parsing it gives exactly what parsing `text` gives.
pub fn format(text: &str) -> Result<String, FormatError> {
    let mut doc: DocumentMut = text.parse()?;
    let mut first = true;
    layout_table(doc.as_table_mut(), &mut first);
    // Comments after the last key: one blank line before them, as before a header.
    let trailing = raw(Some(doc.trailing())).to_string();
    let has_comment = trailing.contains('#');
    doc.set_trailing(comment_lines(&format!("{trailing}\n"), has_comment));
    let out = doc.to_string();
    let out = format!("{}\n", out.trim_start_matches('\n').trim_end());
    let before: toml::Value = toml::from_str(text).map_err(|_| FormatError::MeaningChanged)?;
    let after: toml::Value = toml::from_str(&out).map_err(|_| FormatError::MeaningChanged)?;
    if before != after {
        return Err(FormatError::MeaningChanged);
    }
    Ok(out)
}

/// The text of a decor part ("" when toml_edit has none).
fn raw(part: Option<&RawString>) -> &str {
    part.and_then(RawString::as_str).unwrap_or("")
}

/// The comment lines of a prefix (the lines before a key or header, then the indentation on
/// its own line, which goes), unindented, with runs of blank lines made one and leading blank
/// lines dropped; `blank_before` puts one blank line first.
fn comment_lines(prefix: &str, blank_before: bool) -> String {
    let mut lines: Vec<&str> = prefix.split('\n').collect();
    lines.pop(); // what stands before the key on its own line: indentation only
    let mut out = String::new();
    let mut blank = blank_before;
    if blank_before {
        out.push('\n');
    }
    for line in lines.iter().map(|l| l.trim()) {
        if line.is_empty() {
            if !blank && !out.is_empty() {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    out
}

/// A trailing comment (`  # x  `) as ` # x`; nothing when there is none.
fn trailing_comment(suffix: &str) -> String {
    let comment = suffix.trim();
    if comment.is_empty() {
        String::new()
    } else {
        format!(" {comment}")
    }
}

fn layout_table(table: &mut Table, first: &mut bool) {
    if !table.is_implicit() && table.position().is_some() {
        let decor = table.decor_mut();
        let prefix = comment_lines(raw(decor.prefix()), !*first);
        let suffix = trailing_comment(raw(decor.suffix()));
        decor.set_prefix(prefix);
        decor.set_suffix(suffix);
        *first = false;
    }
    for (mut key, item) in table.iter_mut() {
        match item {
            Item::Value(value) => {
                let decor = key.leaf_decor_mut();
                let prefix = comment_lines(raw(decor.prefix()), false);
                decor.set_prefix(prefix);
                decor.set_suffix(" ");
                layout_value(value);
                *first = false;
            }
            Item::Table(sub) => layout_table(sub, first),
            Item::ArrayOfTables(tables) => {
                for sub in tables.iter_mut() {
                    layout_table(sub, first);
                }
            }
            Item::None => {}
        }
    }
}

/// ` value # comment`; an array or inline table without comments inside is laid out afresh.
fn layout_value(value: &mut Value) {
    let has_comment = |v: &Value| {
        let mut bare = v.clone();
        bare.decor_mut().clear();
        bare.to_string().contains('#') && !v.is_str()
    };
    if !has_comment(value) {
        match value {
            Value::Array(a) => a.fmt(),
            Value::InlineTable(t) => t.fmt(),
            _ => {}
        }
    }
    let decor = value.decor_mut();
    let suffix = trailing_comment(raw(decor.suffix()));
    decor.set_prefix(" ");
    decor.set_suffix(suffix);
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn canonical_text_is_a_fixed_point_and_ends_with_one_line_break() {
        for text in [
            "[project]\nname = \"x\"\n",
            "[project]\nname = \"x\"",
            "\n\n[project]\nname = \"x\"\n\n\n",
            "[project]\nname = \"x\"\n# last words",
        ] {
            let once = format(text).unwrap();
            assert!(once.ends_with('\n') && !once.ends_with("\n\n"), "{once:?}");
            assert_eq!(format(&once).unwrap(), once, "{text:?}");
        }
        assert_eq!(
            format("[project]\nname = \"x\"\n# last words").unwrap(),
            "[project]\nname = \"x\"\n\n# last words\n"
        );
    }

    #[test]
    fn multi_line_strings_and_commented_arrays_are_left_as_written() {
        let text = "[r]\ns = '''\n  keep   this  \n'''\na = [\n  1, # one\n    2,\n]\n";
        assert_eq!(format(text).unwrap(), text);
    }

    #[test]
    fn not_toml_is_an_error_with_its_place() {
        let e = format("[project\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
