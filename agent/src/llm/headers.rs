//! Response-header normalisation shared by all providers: rate-limit headers (OpenAI/Azure
//! style with Go-like durations, Anthropic style with RFC 3339 resets), `retry-after`, request
//! ids, and the tiny date parsers they need. Body parsing is not done here.

use std::time::{SystemTime, UNIX_EPOCH};

use super::call::{RateLimit, ResponseInfo};
use crate::reassembly::exchange::Headers;

/// Fill rate limits, `retry_after_s` and `request_id_present` of `out` from `h`.
pub(crate) fn apply(h: &Headers, out: &mut ResponseInfo) {
    out.request_id_present = [
        "x-request-id",
        "request-id",
        "x-amzn-requestid",
        "apim-request-id",
    ]
    .iter()
    .any(|n| h.contains(n));
    out.retry_after_s = retry_after(h);
    let now = h
        .get("date")
        .and_then(parse_http_date)
        .unwrap_or_else(now_unix);
    out.rate_limit = if h
        .0
        .iter()
        .any(|(n, _)| n.starts_with("anthropic-ratelimit-"))
    {
        anthropic(h, now)
    } else {
        openai(h)
    };
}

fn openai(h: &Headers) -> RateLimit {
    let mut r = RateLimit {
        limit_requests: limit(h.get("x-ratelimit-limit-requests")),
        remaining_requests: count(h.get("x-ratelimit-remaining-requests")),
        limit_tokens: limit(h.get("x-ratelimit-limit-tokens")),
        remaining_tokens: count(h.get("x-ratelimit-remaining-tokens")),
        reset_requests_s: h.get("x-ratelimit-reset-requests").and_then(parse_duration),
        reset_tokens_s: h.get("x-ratelimit-reset-tokens").and_then(parse_duration),
    };
    // Azure sends limit 0 with a meaningless remaining 0.
    if h.get("x-ratelimit-limit-requests").map(str::trim) == Some("0") {
        r.remaining_requests = None;
    }
    if h.get("x-ratelimit-limit-tokens").map(str::trim) == Some("0") {
        r.remaining_tokens = None;
    }
    r
}

fn anthropic(h: &Headers, now: f64) -> RateLimit {
    let tok = |field: &str| {
        h.get(&format!("anthropic-ratelimit-tokens-{field}"))
            .or_else(|| h.get(&format!("anthropic-ratelimit-input-tokens-{field}")))
    };
    let until = |v: Option<&str>| v.and_then(parse_rfc3339).map(|t| (t - now).max(0.0));
    RateLimit {
        limit_requests: limit(h.get("anthropic-ratelimit-requests-limit")),
        remaining_requests: count(h.get("anthropic-ratelimit-requests-remaining")),
        limit_tokens: limit(tok("limit")),
        remaining_tokens: count(tok("remaining")),
        reset_requests_s: until(h.get("anthropic-ratelimit-requests-reset")),
        reset_tokens_s: until(tok("reset")),
    }
}

/// A non-negative integer; `-1` (Azure's "unknown") and garbage are `None`.
fn count(v: Option<&str>) -> Option<u64> {
    v?.trim().parse().ok()
}

/// Like [`count`], but a limit of 0 is meaningless and also `None`.
fn limit(v: Option<&str>) -> Option<u64> {
    count(v).filter(|&n| n > 0)
}

fn retry_after(h: &Headers) -> Option<f64> {
    if let Some(ms) = h
        .get("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return (ms.is_finite() && ms >= 0.0).then_some(ms / 1000.0);
    }
    let v = h.get("retry-after")?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    let at = parse_http_date(v)?;
    let now = h
        .get("date")
        .and_then(parse_http_date)
        .unwrap_or_else(now_unix);
    Some((at - now).max(0.0))
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Go-style duration (`6m0s`, `12ms`, `1.5s`, `1h2m3s`) or bare seconds, in seconds.
pub(crate) fn parse_duration(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    let mut total = 0.0;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    total.is_finite().then_some(total)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: f64) -> Option<f64> {
    let ok = (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..=23).contains(&h)
        && (0..=59).contains(&mi)
        && (0.0..61.0).contains(&s);
    ok.then(|| (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60) as f64 + s)
}

/// RFC 3339 timestamp (`2026-11-22T01:40:05.5Z`, `…+01:00`) as Unix seconds.
pub(crate) fn parse_rfc3339(v: &str) -> Option<f64> {
    let v = v.trim();
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<i64>().ok();
    if v.len() < 20 || !v.is_char_boundary(19) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi) = (num(11..13)?, num(14..16)?);
    let rest = v.get(17..)?;
    let tz_at = rest.find(['Z', 'z', '+', '-'])?;
    let secs: f64 = rest[..tz_at].parse().ok()?;
    let tz = &rest[tz_at..];
    let offset = match tz {
        "Z" | "z" => 0,
        _ => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let (oh, om) = tz.get(1..)?.split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    Some(unix(y, mo, d, h, mi, secs)? - offset as f64)
}

/// IMF-fixdate (`Sun, 22 Nov 2026 01:40:00 GMT`) as Unix seconds.
pub(crate) fn parse_http_date(v: &str) -> Option<f64> {
    let mut it = v.split_whitespace().skip(1);
    let d: i64 = it.next()?.parse().ok()?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = it.next()?;
    let mo = months.iter().position(|m| *m == mon)? as i64 + 1;
    let y: i64 = it.next()?.parse().ok()?;
    let mut t = it.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    unix(y, mo, d, h, mi, s as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn hs(pairs: &[(&str, &str)]) -> Headers {
        Headers(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), Bytes::from(v.to_string())))
                .collect(),
        )
    }

    #[test]
    fn durations_and_dates() {
        assert_eq!(parse_duration("6m0s"), Some(360.0));
        assert_eq!(parse_duration("12ms"), Some(0.012));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("1h2m3s"), Some(3723.0));
        assert_eq!(parse_duration("7"), Some(7.0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_rfc3339("1970-01-02T00:00:00Z"), Some(86_400.0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(
            parse_rfc3339("2026-11-22T01:40:05.5Z"),
            parse_http_date("Sun, 22 Nov 2026 01:40:05 GMT").map(|t| t + 0.5)
        );
        assert_eq!(parse_rfc3339("not a date at all!!"), None);
        assert_eq!(parse_rfc3339("2026-1é-22T01:40:05Z"), None);
        assert_eq!(parse_rfc3339("2026-11-22T01:40é05Z"), None);
        assert_eq!(parse_rfc3339("2026-11-22T01:40:05+0100"), None);
    }

    #[test]
    fn azure_minus_one_and_anthropic_reset() {
        let mut r = ResponseInfo::default();
        apply(
            &hs(&[
                ("x-ratelimit-remaining-requests", "-1"),
                ("x-ratelimit-limit-tokens", "0"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("retry-after-ms", "1500"),
            ]),
            &mut r,
        );
        assert_eq!(r.rate_limit, RateLimit::default());
        assert_eq!(r.retry_after_s, Some(1.5));
        apply(
            &hs(&[
                ("date", "Sun, 22 Nov 2026 01:40:00 GMT"),
                ("anthropic-ratelimit-tokens-reset", "2026-11-22T01:40:30Z"),
                ("anthropic-ratelimit-tokens-remaining", "1000"),
                ("request-id", "req_1"),
            ]),
            &mut r,
        );
        assert_eq!(r.rate_limit.reset_tokens_s, Some(30.0));
        assert_eq!(r.rate_limit.remaining_tokens, Some(1000));
        assert!(r.request_id_present);
    }
}
