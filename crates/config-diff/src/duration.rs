//! Compose durations (`1m30s`, `500ms`, `1.5h`, bare seconds) normalised to one canonical
//! spelling so that `90s`, `1m30s` and `1m30.0s` compare equal.

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

/// Normalises a duration string; text that is not a duration is returned unchanged.
pub fn normalise(text: &str) -> String {
    parse(text).map_or_else(|| text.to_string(), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_durations_share_one_spelling() {
        for (a, b) in [
            ("90s", "1m30s"),
            ("1m30s", "1m30.0s"),
            ("1.5s", "1500ms"),
            ("600s", "10m"),
            ("30", "30s"),
        ] {
            assert_eq!(normalise(a), normalise(b), "{a} vs {b}");
        }
        assert_eq!(normalise("1h0m5s"), "1h5s");
        assert_eq!(normalise("250ms"), "250ms");
        assert_eq!(normalise("soon"), "soon");
        assert_eq!(parse("1x"), None);
    }
}
