//! Checked scalar values: each parses itself while the model is read, so a bad value is reported
//! at its exact place with a hint, and the runtime receives something already understood.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::config::de::{hinted, parse_str};

macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:literal $(, $key:literal : $value:tt)*) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "description": $description $(, $key: $value)* })
            }
        }
    };
}

/// A JSONPath (RFC 9535) selecting a value in a record, e.g. `$.order.lines[0].sku`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPath(String);

impl JsonPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('$') {
            return Err(format!(
                "`{text}` is not a JSONPath: a path starts with `$`"
            ));
        }
        let query = jsonpath_rust::parser::parse_json_path(text).map_err(|e| {
            format!(
                "`{text}` is not a valid JSONPath: {}",
                describe_path_error(&e.to_string())
            )
        })?;
        well_typed::query(&query).map_err(|e| format!("`{text}` is not a valid JSONPath: {e}"))?;
        Ok(JsonPath(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JsonPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// RFC 9535 §2.4.3: function results and arguments must have the right type, which the parser
/// does not check.
mod well_typed {
    use jsonpath_rust::parser::model::{
        Comparable, Comparison, Filter, FilterAtom, FnArg, JpQuery, Segment, Selector, Test,
        TestFunction,
    };

    pub fn query(q: &JpQuery) -> Result<(), String> {
        segments(&q.segments)
    }

    fn segments(segments: &[Segment]) -> Result<(), String> {
        segments.iter().try_for_each(segment)
    }

    fn segment(s: &Segment) -> Result<(), String> {
        match s {
            Segment::Descendant(inner) => segment(inner),
            Segment::Selector(sel) => selector(sel),
            Segment::Selectors(sels) => sels.iter().try_for_each(selector),
        }
    }

    fn selector(s: &Selector) -> Result<(), String> {
        match s {
            Selector::Filter(f) => filter(f),
            _ => Ok(()),
        }
    }

    fn filter(f: &Filter) -> Result<(), String> {
        match f {
            Filter::Or(parts) | Filter::And(parts) => parts.iter().try_for_each(filter),
            Filter::Atom(FilterAtom::Filter { expr, .. }) => filter(expr),
            Filter::Atom(FilterAtom::Test { expr, .. }) => {
                if let Test::Function(func) = expr.as_ref()
                    && let Some(name) = value_function(func)
                {
                    return Err(format!(
                        "`{name}()` gives a value, not a test: compare it, e.g. `{name}(@.a) > 0`"
                    ));
                }
                test(expr)
            }
            Filter::Atom(FilterAtom::Comparison(c)) => {
                let (a, b) = match c.as_ref() {
                    Comparison::Eq(a, b)
                    | Comparison::Ne(a, b)
                    | Comparison::Gt(a, b)
                    | Comparison::Gte(a, b)
                    | Comparison::Lt(a, b)
                    | Comparison::Lte(a, b) => (a, b),
                };
                comparable(a)?;
                comparable(b)
            }
        }
    }

    fn comparable(c: &Comparable) -> Result<(), String> {
        match c {
            Comparable::Function(f) => function(f),
            _ => Ok(()),
        }
    }

    fn test(t: &Test) -> Result<(), String> {
        match t {
            Test::RelQuery(segs) => segments(segs),
            Test::AbsQuery(q) => query(q),
            Test::Function(f) => function(f),
        }
    }

    /// The functions whose result is a value (ValueType), which a filter must compare.
    fn value_function(f: &TestFunction) -> Option<&'static str> {
        match f {
            TestFunction::Length(_) => Some("length"),
            TestFunction::Value(_) => Some("value"),
            TestFunction::Count(_) => Some("count"),
            _ => None,
        }
    }

    fn function(f: &TestFunction) -> Result<(), String> {
        match f {
            TestFunction::Length(arg) => {
                if let FnArg::Test(t) = arg.as_ref()
                    && !singular(t)
                {
                    return Err("`length()` takes one value: a query that selects at most one node, e.g. `length(@.name)`".to_string());
                }
                fn_arg(arg)
            }
            TestFunction::Value(arg) | TestFunction::Count(arg) => fn_arg(arg),
            TestFunction::Search(a, b) | TestFunction::Match(a, b) => {
                fn_arg(a)?;
                fn_arg(b)
            }
            TestFunction::Custom(_, args) => args.iter().try_for_each(fn_arg),
        }
    }

    fn fn_arg(a: &FnArg) -> Result<(), String> {
        match a {
            FnArg::Literal(_) => Ok(()),
            FnArg::Test(t) => test(t),
            FnArg::Filter(f) => filter(f),
        }
    }

    /// A query that selects at most one node: names and indexes only.
    fn singular(t: &Test) -> bool {
        let segs = match t {
            Test::RelQuery(segs) => segs,
            Test::AbsQuery(q) => &q.segments,
            Test::Function(f) => return value_function(f).is_some(),
        };
        segs.iter()
            .all(|s| matches!(s, Segment::Selector(Selector::Name(_) | Selector::Index(_))))
    }
}

/// The path parser reports a multi-line drawing; keep its column and what it expected.
fn describe_path_error(text: &str) -> String {
    let column = text
        .lines()
        .find_map(|l| l.split_once("--> ").map(|(_, pos)| pos.trim()))
        .and_then(|pos| pos.split(':').nth(1))
        .map(|c| format!("it stops at character {c}"));
    let expected = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string);
    match (column, expected) {
        (Some(c), Some(e)) => format!("{c} ({e})"),
        (Some(c), None) => c,
        _ => text.lines().next().unwrap_or(text).to_string(),
    }
}

const PATH_HINT: &str =
    "write a path from the record's root, e.g. `$.sku`, `$.lines[*].qty` or `$['field name']`";

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            JsonPath::parse(&text).map_err(|e| hinted(e, PATH_HINT))
        })
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

string_schema!(JsonPath, "JsonPath", "A JSONPath (RFC 9535) from the record's root, e.g. `$.sku` or `$.lines[*].qty`.", "pattern": "^\\$");

/// A path that names one value (RFC 9535's singular query: names and indexes only, e.g.
/// `$.order.lines[0].sku`), for the places that take one value: a key, an id, a cursor, a flag.
/// A path that may select several (`[*]`, `..`, a filter, a slice) is refused there, since
/// keeping one of its matches would drop the others without a word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SingularPath(JsonPath);

impl SingularPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        let path = JsonPath::parse(text)?;
        let query = jsonpath_rust::parser::parse_json_path(text).map_err(|e| e.to_string())?;
        let singular = query.segments.iter().all(|s| {
            matches!(
                s,
                jsonpath_rust::parser::model::Segment::Selector(
                    jsonpath_rust::parser::model::Selector::Name(_)
                        | jsonpath_rust::parser::model::Selector::Index(_)
                )
            )
        });
        if !singular {
            return Err(format!(
                "`{text}` may select several values, and this place takes one"
            ));
        }
        Ok(SingularPath(path))
    }
}

impl AsRef<str> for SingularPath {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for SingularPath {
    type Target = JsonPath;
    fn deref(&self) -> &JsonPath {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SingularPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            JsonPath::parse(&text).map_err(|e| hinted(e, PATH_HINT))?;
            SingularPath::parse(&text).map_err(|e| {
                hinted(e, "name one value with field names and indexes, e.g. `$.sku` or `$.lines[0].sku`; a list is read by a map field, `split` or `records`")
            })
        })
    }
}

impl Serialize for SingularPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

string_schema!(SingularPath, "SingularPath", "A JSONPath naming one value, with field names and indexes only, e.g. `$.sku` or `$.lines[0].sku`.", "pattern": "^\\$");

/// Checks a URL as the HTTP client reads it: `http` or `https`, a host (a name, an IPv4 or a
/// bracketed IPv6 address), a port if any, no spaces. A URL with a `${...}` left in it (a
/// secret, an unset variable) is known only at run time: it is not checked.
pub fn check_http_url(text: &str) -> Result<(), String> {
    if text.contains("${") {
        return Ok(());
    }
    let invalid = |why: String| format!("`{text}` is not a URL: {why}");
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(invalid(
            "it does not start with `http://` or `https://`".into(),
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(invalid(format!("`{scheme}` is not `http` or `https`")));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, host)| host);
    let (host, port) = match authority.strip_prefix('[') {
        Some(inner) => {
            let Some((ip, after)) = inner.split_once(']') else {
                return Err(invalid("the `[` of its IPv6 address is not closed".into()));
            };
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid(format!("`{ip}` is not an IPv6 address")));
            }
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err(invalid(format!("`{after}` follows its IPv6 address"))),
                },
            };
            (None, port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(invalid("it names no host".into()));
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-._~%".contains(*c)))
        {
            return Err(invalid(format!("`{c}` cannot be in a host name")));
        }
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(invalid(format!("`{port}` is not a port (1 to 65535)")));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it holds a space or a control character".into()));
    }
    Ok(())
}

/// A length of time: `500ms`, `30s`, `15m`, `2h`, `1d`, or combined as `1h30m`; at most
/// [`LONGEST_DAYS`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

/// The longest duration a pipeline may give. Durations are added to clocks and multiplied (a
/// rate limit's interval, a burst's tolerance): a bound keeps every such sum within range,
/// and no timeout, look-back, period or token lifetime needs more.
pub const LONGEST_DAYS: u64 = 365;

/// [`LONGEST_DAYS`] as a duration.
pub const LONGEST: std::time::Duration = std::time::Duration::from_secs(LONGEST_DAYS * 86_400);

/// Why a text is not a [`Duration`].
enum NotADuration {
    Unreadable,
    TooLong,
}

/// `500ms`, `1h30m`...: the duration, at most [`LONGEST`].
fn duration(text: &str) -> Result<std::time::Duration, NotADuration> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(NotADuration::Unreadable);
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(NotADuration::Unreadable);
        }
        // Only digits: a number that does not fit is too long.
        let amount: u64 = rest[..digits].parse().map_err(|_| NotADuration::TooLong)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => std::time::Duration::from_millis(amount),
            "s" => std::time::Duration::from_secs(amount),
            "m" | "min" => std::time::Duration::from_secs(amount.saturating_mul(60)),
            "h" => std::time::Duration::from_secs(amount.saturating_mul(3600)),
            "d" => std::time::Duration::from_secs(amount.saturating_mul(86_400)),
            _ => return Err(NotADuration::Unreadable),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    if total > LONGEST {
        return Err(NotADuration::TooLong);
    }
    Ok(total)
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        duration(text).map(Duration).map_err(|e| match e {
            NotADuration::Unreadable => format!("`{text}` is not a duration"),
            NotADuration::TooLong => format!("`{text}` is longer than {LONGEST_DAYS} days"),
        })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse().map_err(|e| {
                hinted(
                    e,
                    "write a number and a unit: `500ms`, `30s`, `15m`, `2h`, `1d`, or `1h30m`; at most `365d`",
                )
            })
        })
    }
}

string_schema!(Duration, "Duration", "A length of time: `500ms`, `30s`, `15m`, `2h`, `1d`, or combined as `1h30m`; at most `365d`.", "pattern": "^([0-9]+(ms|s|m|min|h|d))+$");

/// When a job runs under `syncline serve`: a cron expression (`0 2 * * *`, `@hourly`, with an
/// optional seconds field) or an interval (`every 15m`), in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub when: When,
    /// The zone a cron expression's hours are read in; the pipeline's `timezone` when not set.
    pub timezone: Option<TimeZone>,
}

#[derive(Debug, Clone)]
pub enum When {
    Cron(Box<croner::Cron>),
    Every(Duration),
}

impl FromStr for When {
    type Err = (String, String);

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(interval) = text.trim().strip_prefix("every ") {
            return match interval.trim().parse::<Duration>() {
                Ok(d) if !d.0.is_zero() => Ok(When::Every(d)),
                _ => Err((
                    format!("`{text}` is not a valid interval"),
                    "write `every` and a duration, e.g. `every 15m` or `every 1h`".to_string(),
                )),
            };
        }
        cron(text).map(|c| When::Cron(Box::new(c)))
    }
}

fn cron(text: &str) -> Result<croner::Cron, (String, String)> {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build();
    parser.parse(text).map_err(|e| {
        (
            format!("`{text}` is not a valid cron expression: {e}"),
            "five fields: minute hour day-of-month month day-of-week, e.g. `0 2 * * *` (02:00 every day) or `*/15 * * * *`; six with seconds first; or `every 15m`".to_string(),
        )
    })
}

/// The long form of a schedule: `{ cron: "0 2 * * *", timezone: Europe/Bucharest }` or
/// `{ every: 15m }`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScheduleSpec {
    /// A cron expression: `0 2 * * *` (02:00 every day), `*/15 * * * *`, `@hourly`.
    cron: Option<String>,
    /// An interval between the starts of two runs: `15m`, `1h`.
    every: Option<Duration>,
    /// The zone the cron expression's hours are read in, e.g. `Europe/Paris`.
    timezone: Option<TimeZone>,
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScheduleVisitor;
        impl<'de> de::Visitor<'de> for ScheduleVisitor {
            type Value = Schedule;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a cron expression, `every 15m`, or `{ cron: ..., timezone: ... }`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Schedule, E> {
                let when = text
                    .parse()
                    .map_err(|(message, hint)| hinted(message, hint))?;
                Ok(Schedule {
                    when,
                    timezone: None,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Schedule, A::Error> {
                let spec = ScheduleSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let when = match (spec.cron, spec.every) {
                    (Some(text), None) => When::Cron(Box::new(
                        cron(&text).map_err(|(message, hint)| hinted(message, hint))?,
                    )),
                    (None, Some(every)) if !every.0.is_zero() => When::Every(every),
                    (None, Some(_)) => {
                        return Err(hinted(
                            "`every: 0s` never runs",
                            "write a duration such as `15m`",
                        ));
                    }
                    _ => {
                        return Err(hinted(
                            "a schedule needs exactly one of `cron` and `every`",
                            "e.g. `{ cron: \"0 2 * * *\", timezone: Europe/Paris }` or `{ every: 15m }`",
                        ));
                    }
                };
                if spec.timezone.is_some() && matches!(when, When::Every(_)) {
                    return Err(hinted(
                        "`timezone` only applies to `cron`: an interval is the same in every zone",
                        "remove `timezone`, or write the schedule as `cron`",
                    ));
                }
                Ok(Schedule {
                    when,
                    timezone: spec.timezone,
                })
            }
        }
        d.deserialize_any(ScheduleVisitor)
    }
}

impl JsonSchema for Schedule {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Schedule")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let spec = generator.subschema_for::<ScheduleSpec>();
        json_schema!({
            "description": "When the job runs under `syncline serve`: a cron expression (`0 2 * * *`, `@hourly`, six fields with seconds), an interval (`every 15m`), or `{ cron: \"0 2 * * *\", timezone: Europe/Paris }`.",
            "anyOf": [ { "type": "string" }, spec ]
        })
    }
}

/// A time zone of the IANA database: `Europe/Paris`, `Europe/Bucharest`, `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
                let near = crate::diagnostics::did_you_mean(
                    &text,
                    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()),
                );
                hinted(
                    format!("`{text}` is not a time zone"),
                    near.unwrap_or_else(|| {
                        "write a zone of the IANA database: `Europe/Paris`, `Europe/Bucharest`, `UTC`".to_string()
                    }),
                )
            })
        })
    }
}

string_schema!(
    TimeZone,
    "TimeZone",
    "A time zone of the IANA database: `Europe/Paris`, `Europe/Bucharest`, `UTC`."
);

/// At most `count` requests per `per`: `5/s`, `100/min`, `10/10s`; with `, burst N` a leaky
/// bucket of N requests that leaks at that rate (Shopify: `2/s, burst 40`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: std::time::Duration,
    /// Requests that may go at once when the bucket is empty; 1 without `burst`.
    pub burst: u32,
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a rate limit");
        let (rate, burst) = match text.split_once(',') {
            Some((rate, burst)) => {
                let burst = burst
                    .trim()
                    .strip_prefix("burst")
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(invalid)?;
                (rate, burst)
            }
            None => (text, 1),
        };
        let (count, per) = rate.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let per = per.trim();
        let per = match per {
            "s" | "sec" | "second" => std::time::Duration::from_secs(1),
            "m" | "min" | "minute" => std::time::Duration::from_secs(60),
            "h" | "hour" => std::time::Duration::from_secs(3600),
            other => match duration(other) {
                Ok(period) => period,
                Err(NotADuration::TooLong) => {
                    return Err(format!(
                        "`{text}`: the period is longer than {LONGEST_DAYS} days"
                    ));
                }
                Err(NotADuration::Unreadable) => return Err(invalid()),
            },
        };
        if count == 0 || per.is_zero() {
            return Err(invalid());
        }
        Ok(RateLimit { count, per, burst })
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse()
                .map_err(|e| hinted(e, "write requests per period of at most `365d`: `5/s`, `100/min`, `10/10s`, or a leaky bucket: `2/s, burst 40`"))
        })
    }
}

string_schema!(RateLimit, "RateLimit", "At most this many requests per period: `5/s`, `100/min`, `10/10s`; a leaky bucket: `2/s, burst 40`.", "pattern": "^[0-9]+/");

/// When a failed request is tried again: a status code (`429`), a class (`5xx`), `timeout` or
/// `connection` (reset or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    Status(u16),
    Class(u16),
    Timeout,
    Connection,
}

impl fmt::Display for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryOn::Status(s) => write!(f, "{s}"),
            RetryOn::Class(c) => write!(f, "{c}xx"),
            RetryOn::Timeout => f.write_str("timeout"),
            RetryOn::Connection => f.write_str("connection"),
        }
    }
}

impl FromStr for RetryOn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "timeout" => Ok(RetryOn::Timeout),
            "connection" => Ok(RetryOn::Connection),
            t if t.len() == 3 && t.ends_with("xx") => match t.as_bytes()[0] {
                d @ b'1'..=b'5' => Ok(RetryOn::Class(u16::from(d - b'0'))),
                _ => Err(format!("`{text}` is not a status class")),
            },
            t => match t.parse::<u16>() {
                Ok(code) if (100..600).contains(&code) => Ok(RetryOn::Status(code)),
                _ => Err(format!("`{text}` is not a retry condition")),
            },
        }
    }
}

impl<'de> Deserialize<'de> for RetryOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse().map_err(|e| {
                hinted(
                    e,
                    "use a status code (`429`), a class (`5xx`), `timeout` or `connection`",
                )
            })
        })
    }
}

impl JsonSchema for RetryOn {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("RetryOn")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A status code (`429`), a class (`5xx`), `timeout` or `connection`.",
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": "^([1-5]xx|timeout|connection|[1-5][0-9][0-9])$" }
            ]
        })
    }
}

/// A delay range for retries: `1s..60s` (exponential from the first to the second, with jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: std::time::Duration,
    pub max: std::time::Duration,
}

impl FromStr for Backoff {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a backoff range");
        let (a, b) = text.split_once("..").ok_or_else(invalid)?;
        let delay = |text: &str| {
            duration(text.trim()).map_err(|e| match e {
                NotADuration::TooLong => {
                    format!("`{text}`: a delay is longer than {LONGEST_DAYS} days")
                }
                NotADuration::Unreadable => invalid(),
            })
        };
        let (initial, max) = (delay(a)?, delay(b)?);
        if initial > max || initial.is_zero() {
            return Err(format!(
                "`{text}`: the first delay must be above zero and at most the second"
            ));
        }
        Ok(Backoff { initial, max })
    }
}

impl<'de> Deserialize<'de> for Backoff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse()
                .map_err(|e| hinted(e, "write the first and the longest delay: `1s..60s`"))
        })
    }
}

string_schema!(Backoff, "Backoff", "Retry delays, growing exponentially with jitter: `1s..60s`.", "pattern": "\\.\\.");
