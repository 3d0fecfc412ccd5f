//! Durations as Go (and so Docker Compose) spells them — `1m30s`, `500ms`, `1.5h`, a bare
//! number of seconds — for config files and command-line flags alike.

use std::time::Duration;

const NS_PER: [(&str, f64); 7] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// Parses a Go-style duration into nanoseconds. A bare number means seconds.
pub fn parse(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(secs) = t.parse::<f64>() {
        return (secs >= 0.0).then(|| (secs * 1e9).round() as u64);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let factor = NS_PER.iter().find(|(u, _)| *u == unit)?.1;
        total += number * factor;
        rest = &rest[unit_end..];
    }
    Some(total.round() as u64)
}

/// Canonical spelling: `1h2m3s`, `90s` → `1m30s`, sub-second values in `ms` or `ns`.
pub fn format(ns: u64) -> String {
    const S: u64 = 1_000_000_000;
    if ns == 0 {
        return "0s".into();
    }
    if ns % S != 0 {
        return if ns % 1_000_000 == 0 {
            format!("{}ms", ns / 1_000_000)
        } else {
            format!("{ns}ns")
        };
    }
    let secs = ns / S;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A duration flag's value (`--lock-timeout 1m30s`): the error names the value and the fix.
/// On the command line (not in compose files, which Go's spelling rules) it also takes what
/// people type: a space before the unit (`5 s`) and `min` (`2min`).
pub fn parse_flag(text: &str) -> Result<Duration, String> {
    let typed: String = text.split_whitespace().collect();
    let typed = match typed.strip_suffix("min") {
        Some(number) => format!("{number}m"),
        None => typed,
    };
    parse(&typed)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("`{text}` is not a duration — use e.g. 500ms, 30s, 2m or 1m30s"))
}

/// Compact display for messages: `250ms`, `30s`, `1.5s`.
pub fn display(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings_parse() {
        assert_eq!(parse("90s"), parse("1m30s"));
        assert_eq!(parse("1.5s"), Some(1_500_000_000));
        assert_eq!(parse("30"), Some(30_000_000_000));
        assert_eq!(parse("1x"), None);
        assert_eq!(parse(""), None);
        assert_eq!(format(parse("1h0m5s").unwrap()), "1h5s");
        assert_eq!(format(parse("250ms").unwrap()), "250ms");
    }

    #[test]
    fn flags_parse_and_display() {
        assert_eq!(parse_flag("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_flag("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_flag("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_flag("0").unwrap(), Duration::ZERO);
        let e = parse_flag("soon").unwrap_err();
        assert!(e.contains("`soon`") && e.contains("500ms"), "{e}");
        assert!(parse_flag("5 parsecs").is_err());
        assert_eq!(parse_flag("2min").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_flag(" 5 s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("2min"), None, "compose spelling stays Go's");
        assert!(parse_flag("-3s").is_err());
        assert_eq!(display(Duration::from_millis(1500)), "1.5s");
        assert_eq!(display(Duration::from_millis(250)), "250ms");
    }
}
