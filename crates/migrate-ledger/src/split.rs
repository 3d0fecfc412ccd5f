//! A small SQL lexer: splits a script into statements on `;` outside quotes, dollar quotes and
//! comments. Used to run `no-transaction` files one statement at a time (PostgreSQL runs a
//! multi-statement query string as one implicit transaction) and to refuse transactional
//! files that manage their own transaction.

/// One statement: its text and the character offset where it starts in the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub char_offset: usize,
    pub text: &'a str,
}

/// Splits `sql` into statements, dropping the ones that are only whitespace and comments.
pub fn statements(sql: &str) -> Vec<Statement<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 1;
                i += 2;
                while i < bytes.len() && depth > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && !is_ident(bytes.get(i.wrapping_sub(2)).copied());
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'$' if !is_ident(i.checked_sub(1).map(|p| bytes[p])) => {
                if let Some(tag_len) = dollar_tag(&sql[i..]) {
                    let tag = &sql[i..i + tag_len];
                    i = sql[i + tag_len..]
                        .find(tag)
                        .map_or(bytes.len(), |n| i + tag_len + n + tag_len);
                } else {
                    i += 1;
                }
            }
            b';' => {
                push(sql, start, i, &mut out);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(sql, start, bytes.len(), &mut out);
    out
}

fn is_ident(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
}

fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Length of a dollar-quote opener at the start of `s` (`$$` or `$tag$`), if it is one.
fn dollar_tag(s: &str) -> Option<usize> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.is_empty()
        || (!tag.starts_with(|c: char| c.is_ascii_digit())
            && tag.chars().all(|c| c.is_alphanumeric() || c == '_'));
    valid.then_some(end + 2)
}

fn push<'a>(sql: &'a str, start: usize, end: usize, out: &mut Vec<Statement<'a>>) {
    let text = &sql[start..end];
    if strip_comments(text).trim().is_empty() {
        return;
    }
    out.push(Statement {
        char_offset: sql[..start].chars().count(),
        text,
    });
}

/// The statement without leading whitespace and comments (for keyword checks).
pub fn strip_comments(text: &str) -> &str {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("--") {
            rest = after.find('\n').map_or("", |n| &after[n + 1..]);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |n| &after[n + 2..]);
        } else {
            return trimmed;
        }
    }
}

/// The first statement that controls the transaction itself (BEGIN, COMMIT, ROLLBACK, START
/// TRANSACTION, SAVEPOINT release aside): inside our per-file transaction it would commit half
/// a migration, so such files are refused.
pub fn transaction_control(sql: &str) -> Option<Statement<'_>> {
    statements(sql).into_iter().find(|s| {
        let words: Vec<String> = strip_comments(s.text)
            .split_whitespace()
            .take(2)
            .map(str::to_ascii_uppercase)
            .collect();
        match words.first().map(String::as_str) {
            Some("BEGIN" | "COMMIT" | "ROLLBACK" | "ABORT") => {
                // `BEGIN ATOMIC` opens an SQL-standard function body, not a transaction.
                words.get(1).map(String::as_str) != Some("ATOMIC")
            }
            Some("START") => words.get(1).map(String::as_str) == Some("TRANSACTION"),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        statements(sql)
            .into_iter()
            .map(|s| s.text.trim().to_string())
            .collect()
    }

    #[test]
    fn splits_outside_quotes_and_comments() {
        let sql = "CREATE TABLE a (x text DEFAULT ';');\n-- c; c\nSELECT $$ ; $$; /* ; /* ; */ */ SELECT $f$ a;b $f$;\nSELECT \"a;b\" FROM t; SELECT E'\\';' ;  -- tail;";
        assert_eq!(
            texts(sql),
            vec![
                "CREATE TABLE a (x text DEFAULT ';')",
                "-- c; c\nSELECT $$ ; $$",
                "/* ; /* ; */ */ SELECT $f$ a;b $f$",
                "SELECT \"a;b\" FROM t",
                "SELECT E'\\';'",
            ]
        );
    }

    #[test]
    fn offsets_are_characters() {
        let sql = "SELECT 'é';\nSELECT 2;";
        let s = statements(sql);
        assert_eq!(s[1].char_offset, 11);
    }

    #[test]
    fn finds_transaction_control() {
        assert!(transaction_control("CREATE TABLE a();\nCOMMIT;\n").is_some());
        assert!(transaction_control("begin;\nSELECT 1;").is_some());
        assert!(transaction_control("DO $$ BEGIN PERFORM 1; END $$;").is_none());
        assert!(
            transaction_control(
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"
            )
            .is_none()
        );
        assert!(transaction_control("-- BEGIN\nSELECT 1;").is_none());
    }
}
