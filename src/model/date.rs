//! Effective dates: the subset of EDTF (ISO 8601-2) that the ledger accepts.

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar day (proleptic Gregorian), cheap to copy and compare.
///
/// Always between [`Day::MIN`] (0001-01-01) and [`Day::MAX`] (9999-12-31),
/// so it always prints as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i32); // days from CE as chrono counts them: 0001-01-01 is 1

impl Day {
    /// 0001-01-01, the first day with a four-digit year.
    pub const MIN: Day = Day(1);
    /// 9999-12-31, the last day with a four-digit year.
    pub const MAX: Day = Day(3_652_059);

    /// The day `year-month-day`, if it exists and its year is 1 to 9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=9999).contains(&year) {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, day).map(Day::from_naive)
    }

    /// Parses a query day: strictly `YYYY-MM-DD`, no qualifier, nothing else.
    pub fn parse(s: &str) -> Result<Day, DateError> {
        let fail = |kind| Err(DateError::new(s, kind));
        let raw = match lex_point(s.as_bytes()) {
            Some(raw) if raw.day.is_some() && raw.qualifier.is_none() => raw,
            _ => return fail(ErrorKind::NotDay),
        };
        match validate(&raw) {
            Ok(point) => Ok(point.first),
            Err(invalid) => fail(ErrorKind::Invalid(invalid)),
        }
    }

    /// Today's date in UTC.
    pub fn today_utc() -> Day {
        Day::from_naive(chrono::Utc::now().date_naive())
    }

    pub fn to_naive(self) -> NaiveDate {
        // Every Day is in range, so the fallback is never taken; it only
        // keeps this path free of panics.
        NaiveDate::from_num_days_from_ce_opt(self.0).unwrap_or(NaiveDate::MIN)
    }

    /// Converts from chrono, clamping to [`Day::MIN`]..=[`Day::MAX`]
    /// (chrono reaches far beyond four-digit years).
    pub fn from_naive(d: NaiveDate) -> Day {
        Day(d.num_days_from_ce().clamp(Day::MIN.0, Day::MAX.0))
    }

    /// The next day, or `Day::MAX` itself.
    pub fn succ(self) -> Day {
        Day((self.0 + 1).min(Day::MAX.0))
    }

    /// The previous day, or `Day::MIN` itself.
    pub fn pred(self) -> Day {
        Day((self.0 - 1).max(Day::MIN.0))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ymd(f, self.to_naive(), 10)
    }
}

/// The first `len` characters of `YYYY-MM-DD` (4, 7 or 10), digit by
/// digit: an answer may write hundreds of dates.
fn write_ymd(f: &mut fmt::Formatter<'_>, d: NaiveDate, len: usize) -> fmt::Result {
    let Ok(year) = u32::try_from(d.year()) else { return write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day()) };
    if year > 9999 {
        return write!(f, "{year:04}-{:02}-{:02}", d.month(), d.day());
    }
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let (m, day) = (d.month(), d.day());
    let text = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    f.write_str(std::str::from_utf8(&text[..len.min(10)]).map_err(|_| fmt::Error)?)
}

impl FromStr for Day {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Day, DateError> {
        Day::parse(s)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Day, D::Error> {
        let s = String::deserialize(deserializer)?;
        Day::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The EDTF qualifier that may follow a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `?`
    Uncertain,
    /// `~`
    Approximate,
    /// `%`
    UncertainApproximate,
}

impl Qualifier {
    /// The character that writes this qualifier.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Uncertain => '?',
            Qualifier::Approximate => '~',
            Qualifier::UncertainApproximate => '%',
        }
    }

    fn from_byte(b: u8) -> Option<Qualifier> {
        match b {
            b'?' => Some(Qualifier::Uncertain),
            b'~' => Some(Qualifier::Approximate),
            b'%' => Some(Qualifier::UncertainApproximate),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    Year,
    Month,
    Day,
}

/// One endpoint: year, month or day precision, optional qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatePoint {
    // The first day of the year or month (or the day itself); together with
    // the precision it determines both the range and the text.
    first: Day,
    precision: Precision,
    qualifier: Option<Qualifier>,
}

impl DatePoint {
    pub fn first_day(&self) -> Day {
        self.first
    }

    pub fn last_day(&self) -> Day {
        let d = self.first.to_naive();
        match self.precision {
            Precision::Year => Day::from_ymd(d.year(), 12, 31).unwrap_or(self.first),
            Precision::Month => {
                let last = days_in_month(d.year(), d.month());
                Day::from_ymd(d.year(), d.month(), last).unwrap_or(self.first)
            }
            Precision::Day => self.first,
        }
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn qualifier(&self) -> Option<Qualifier> {
        self.qualifier
    }
}

impl fmt::Display for DatePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.first.to_naive();
        match self.precision {
            Precision::Year => write_ymd(f, d, 4)?,
            Precision::Month => write_ymd(f, d, 7)?,
            Precision::Day => write_ymd(f, d, 10)?,
        }
        match self.qualifier {
            Some(q) => f.write_char(q.as_char()),
            None => Ok(()),
        }
    }
}

/// The effective date of an event.
///
/// An effective date is a year (`2019`), a month (`2017-02`) or a day
/// (`2020-12-09`), optionally followed by one qualifier (`?` uncertain,
/// `~` approximate, `%` both), or an interval `A/B` of two of those. Each
/// value denotes a range of calendar days, and its text form is canonical:
/// `EffectiveDate::parse(x)?.to_string() == x` for every accepted `x`, so a
/// stored event shows exactly what was recorded.
///
/// Parsing is hand-written and strict on purpose: chrono's parsers accept
/// signs, single-digit fields and more, and what is lenient today becomes
/// ambiguous history tomorrow. chrono is used only for calendar arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EffectiveDate {
    start: DatePoint,
    end: Option<DatePoint>,
}

/// One form of an effective date: how it is written, an example, what it means.
#[derive(Debug)]
pub struct DateForm {
    pub form: &'static str,
    pub example: &'static str,
    pub meaning: &'static str,
}

/// Every form [`EffectiveDate::parse`] accepts, for help texts (a test
/// parses each example, so the list cannot promise a form that is refused).
pub const DATE_FORMS: [DateForm; 7] = [
    DateForm { form: "YYYY", example: "2019", meaning: "a year: some day in it" },
    DateForm { form: "YYYY-MM", example: "2017-02", meaning: "a month: some day in it" },
    DateForm { form: "YYYY-MM-DD", example: "2020-12-09", meaning: "a day" },
    DateForm { form: "D?", example: "2019-06-30?", meaning: "any of them, uncertain" },
    DateForm { form: "D~", example: "2019~", meaning: "any of them, approximate" },
    DateForm { form: "D%", example: "2017-02%", meaning: "any of them, uncertain and approximate" },
    DateForm { form: "D1/D2", example: "2017-02/2018-03", meaning: "some day from D1 to D2, two of the above" },
];

/// The longest valid text, `YYYY-MM-DD%/YYYY-MM-DD%`; anything longer is
/// rejected before looking at it, so huge inputs cost nothing.
const MAX_LEN: usize = 23;

impl EffectiveDate {
    pub fn parse(s: &str) -> Result<EffectiveDate, DateError> {
        let fail = |kind| Err(DateError::new(s, kind));
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return fail(ErrorKind::Empty);
        }
        if bytes.len() > MAX_LEN {
            return fail(ErrorKind::NotEffectiveDate);
        }
        // All syntax first, so a malformed interval is reported as such even
        // when one of its ends is also an impossible date.
        let (start, end) = match bytes.iter().position(|&b| b == b'/') {
            None => (lex_point(bytes), None),
            Some(i) => {
                let (a, b) = (&bytes[..i], &bytes[i + 1..]);
                match lex_point(b) {
                    Some(end) => (lex_point(a), Some(end)),
                    None => return fail(ErrorKind::NotEffectiveDate),
                }
            }
        };
        let Some(start) = start else {
            return fail(ErrorKind::NotEffectiveDate);
        };
        let checked = |raw: &RawPoint| validate(raw).map_err(|e| DateError::new(s, ErrorKind::Invalid(e)));
        let start = checked(&start)?;
        let end = match end {
            Some(raw) => Some(checked(&raw)?),
            None => None,
        };
        if let Some(end) = end
            && start.first_day() > end.last_day()
        {
            return fail(ErrorKind::Reversed);
        }
        Ok(EffectiveDate { start, end })
    }

    /// A single day: day precision, no qualifier.
    pub fn from_day(d: Day) -> EffectiveDate {
        let start = DatePoint { first: d, precision: Precision::Day, qualifier: None };
        EffectiveDate { start, end: None }
    }

    /// The first day of the range.
    pub fn first_day(&self) -> Day {
        self.start.first_day()
    }

    /// The last day of the range.
    pub fn last_day(&self) -> Day {
        self.end.unwrap_or(self.start).last_day()
    }

    /// Whether this is a single day with no qualifier.
    pub fn is_exact_day(&self) -> bool {
        self.end.is_none() && self.start.precision == Precision::Day && self.start.qualifier.is_none()
    }

    pub fn is_interval(&self) -> bool {
        self.end.is_some()
    }

    /// The date itself, or the start of an interval.
    pub fn start(&self) -> DatePoint {
        self.start
    }

    /// The end of an interval; `None` for a single date.
    pub fn end(&self) -> Option<DatePoint> {
        self.end
    }

    /// Whether `d` lies in the range of days this date may denote.
    pub fn contains(&self, d: Day) -> bool {
        self.first_day() <= d && d <= self.last_day()
    }
}

impl From<Day> for EffectiveDate {
    fn from(d: Day) -> EffectiveDate {
        EffectiveDate::from_day(d)
    }
}

impl fmt::Display for EffectiveDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.start, f)?;
        match self.end {
            Some(end) => {
                f.write_char('/')?;
                fmt::Display::fmt(&end, f)
            }
            None => Ok(()),
        }
    }
}

impl FromStr for EffectiveDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<EffectiveDate, DateError> {
        EffectiveDate::parse(s)
    }
}

impl Serialize for EffectiveDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EffectiveDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EffectiveDate, D::Error> {
        let s = String::deserialize(deserializer)?;
        EffectiveDate::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a date or day was rejected. Its message is one sentence that quotes
/// (the start of) the input and says what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateError {
    // Already shortened and escaped, so errors stay small whatever came in.
    quoted: String,
    kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrorKind {
    Empty,
    NotEffectiveDate,
    NotDay,
    Invalid(Invalid),
    Reversed,
}

/// A well-formed date that does not exist on the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Invalid {
    YearZero,
    Month(u32),
    DayZero,
    DayTooLarge { year: i32, month: u32, days: u32 },
}

/// How much of a bad input an error message repeats.
const QUOTE_CHARS: usize = 40;

impl DateError {
    fn new(input: &str, kind: ErrorKind) -> DateError {
        // Work on chars, never byte offsets, so multibyte text cannot split;
        // control characters are escaped so the message stays on one line.
        let mut quoted = String::new();
        let mut chars = input.chars();
        for c in chars.by_ref().take(QUOTE_CHARS) {
            if c.is_control() {
                quoted.extend(c.escape_debug());
            } else {
                quoted.push(c);
            }
        }
        if chars.next().is_some() {
            quoted.push('…');
        }
        DateError { quoted, kind }
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const EXPECTED: &str = "expected YYYY, YYYY-MM or YYYY-MM-DD, optionally followed by ?, ~ or %, \
                        or an interval A/B of two of them";

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.quoted;
        match &self.kind {
            ErrorKind::Empty => write!(f, "the empty string is not an effective date: {EXPECTED}"),
            ErrorKind::NotEffectiveDate => write!(f, "`{q}` is not an effective date: {EXPECTED}"),
            ErrorKind::NotDay => write!(f, "`{q}` is not a day: expected YYYY-MM-DD"),
            ErrorKind::Reversed => {
                write!(f, "`{q}` is a reversed interval: it ends before it starts")
            }
            ErrorKind::Invalid(why) => {
                write!(f, "`{q}` is not a valid date: ")?;
                match *why {
                    Invalid::YearZero => write!(f, "there is no year 0000"),
                    Invalid::Month(m) => write!(f, "there is no month {m:02}"),
                    Invalid::DayZero => write!(f, "there is no day 00"),
                    Invalid::DayTooLarge { year, month, days } => {
                        let name = MONTH_NAMES.get(month.saturating_sub(1) as usize).copied().unwrap_or("that month");
                        write!(f, "{name} {year:04} has {days} days")
                    }
                }
            }
        }
    }
}

impl std::error::Error for DateError {}

/// An endpoint that is well-formed but not yet checked against the calendar.
struct RawPoint {
    year: u32,
    month: Option<u32>,
    day: Option<u32>,
    qualifier: Option<Qualifier>,
}

/// Reads `YYYY`, `YYYY-MM` or `YYYY-MM-DD` plus an optional qualifier, and
/// nothing else. Works on bytes: every accepted byte is ASCII, so anything
/// else simply fails to match.
fn lex_point(b: &[u8]) -> Option<RawPoint> {
    let (b, qualifier) = match b.split_last() {
        Some((&last, rest)) => match Qualifier::from_byte(last) {
            Some(q) => (rest, Some(q)),
            None => (b, None),
        },
        None => return None,
    };
    let (year, month, day) = match b {
        [y @ .., b'-', m1, m2, b'-', d1, d2] if y.len() == 4 => (y, Some([*m1, *m2]), Some([*d1, *d2])),
        [y @ .., b'-', m1, m2] if y.len() == 4 => (y, Some([*m1, *m2]), None),
        y if y.len() == 4 => (y, None, None),
        _ => return None,
    };
    Some(RawPoint {
        year: digits(year)?,
        month: match month {
            Some(m) => Some(digits(&m)?),
            None => None,
        },
        day: match day {
            Some(d) => Some(digits(&d)?),
            None => None,
        },
        qualifier,
    })
}

/// The value of a run of ASCII digits (at most four here, so no overflow).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// Checks a well-formed endpoint against the calendar.
fn validate(raw: &RawPoint) -> Result<DatePoint, Invalid> {
    // Four digits give 0..=9999, which always fits in an i32.
    let year = i32::try_from(raw.year).map_err(|_| Invalid::YearZero)?;
    if year == 0 {
        return Err(Invalid::YearZero);
    }
    let month = raw.month.unwrap_or(1);
    if !(1..=12).contains(&month) {
        return Err(Invalid::Month(month));
    }
    let day = raw.day.unwrap_or(1);
    let days = days_in_month(year, month);
    if day == 0 {
        return Err(Invalid::DayZero);
    }
    if day > days {
        return Err(Invalid::DayTooLarge { year, month, days });
    }
    let precision = match (raw.month, raw.day) {
        (None, _) => Precision::Year,
        (Some(_), None) => Precision::Month,
        (Some(_), Some(_)) => Precision::Day,
    };
    // Checked above, so this always succeeds; the error is a safe fallback.
    let first = Day::from_ymd(year, month, day).ok_or(Invalid::DayTooLarge { year, month, days })?;
    Ok(DatePoint { first, precision, qualifier: raw.qualifier })
}

/// 28 to 31, by asking chrono which day numbers exist (Gregorian leap years).
fn days_in_month(year: i32, month: u32) -> u32 {
    (28..=31).rev().find(|&d| NaiveDate::from_ymd_opt(year, month, d).is_some()).unwrap_or(28)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_listed_date_form_parses_as_written() {
        for f in &DATE_FORMS {
            let parsed = EffectiveDate::parse(f.example).map(|d| d.to_string());
            assert_eq!(parsed.as_deref(), Ok(f.example), "{}", f.form);
        }
        let qualifiers = [Qualifier::Uncertain, Qualifier::Approximate, Qualifier::UncertainApproximate];
        for q in qualifiers {
            let listed = DATE_FORMS.iter().any(|f| f.form.ends_with(q.as_char()));
            assert!(listed, "the qualifier {} is not listed", q.as_char());
        }
    }

    fn day(s: &str) -> Day {
        match Day::parse(s) {
            Ok(d) => d,
            Err(e) => panic!("bad test day {s}: {e}"),
        }
    }

    #[test]
    fn valid_inputs() {
        // (input, first day, last day, is_interval, is_exact_day)
        let table: &[(&str, &str, &str, bool, bool)] = &[
            ("2019", "2019-01-01", "2019-12-31", false, false),
            ("0001", "0001-01-01", "0001-12-31", false, false),
            ("9999", "9999-01-01", "9999-12-31", false, false),
            ("2017-02", "2017-02-01", "2017-02-28", false, false),
            ("2020-02", "2020-02-01", "2020-02-29", false, false),
            ("2100-02", "2100-02-01", "2100-02-28", false, false),
            ("2000-02", "2000-02-01", "2000-02-29", false, false),
            ("1900-02", "1900-02-01", "1900-02-28", false, false),
            ("2021-04", "2021-04-01", "2021-04-30", false, false),
            ("2021-12", "2021-12-01", "2021-12-31", false, false),
            ("2020-12-09", "2020-12-09", "2020-12-09", false, true),
            ("2020-02-29", "2020-02-29", "2020-02-29", false, true),
            ("2000-02-29", "2000-02-29", "2000-02-29", false, true),
            ("0001-01-01", "0001-01-01", "0001-01-01", false, true),
            ("9999-12-31", "9999-12-31", "9999-12-31", false, true),
            ("2019?", "2019-01-01", "2019-12-31", false, false),
            ("2019~", "2019-01-01", "2019-12-31", false, false),
            ("2019%", "2019-01-01", "2019-12-31", false, false),
            ("2017-02?", "2017-02-01", "2017-02-28", false, false),
            ("2017-02~", "2017-02-01", "2017-02-28", false, false),
            ("2017-02%", "2017-02-01", "2017-02-28", false, false),
            ("1955-05-06?", "1955-05-06", "1955-05-06", false, false),
            ("1955-05-06~", "1955-05-06", "1955-05-06", false, false),
            ("1955-05-06%", "1955-05-06", "1955-05-06", false, false),
            ("2017-02/2018-03", "2017-02-01", "2018-03-31", true, false),
            ("2017-02?/2018-03~", "2017-02-01", "2018-03-31", true, false),
            ("2017/2018", "2017-01-01", "2018-12-31", true, false),
            ("2018/2018", "2018-01-01", "2018-12-31", true, false),
            ("2019-12-09/2020", "2019-12-09", "2020-12-31", true, false),
            ("2019%/2020-02-29?", "2019-01-01", "2020-02-29", true, false),
            ("2020-02-29/2020-02-29", "2020-02-29", "2020-02-29", true, false),
            ("2018-03-04/2018-03-05", "2018-03-04", "2018-03-05", true, false),
            ("2018-03/2018-03-01", "2018-03-01", "2018-03-01", true, false),
            ("2019-12-09~/2019-12%", "2019-12-09", "2019-12-31", true, false),
            ("0001/9999", "0001-01-01", "9999-12-31", true, false),
        ];
        for &(input, first, last, interval, exact) in table {
            let d = match EffectiveDate::parse(input) {
                Ok(d) => d,
                Err(e) => panic!("{input} rejected: {e}"),
            };
            assert_eq!(d.first_day(), day(first), "first day of {input}");
            assert_eq!(d.last_day(), day(last), "last day of {input}");
            assert_eq!(d.is_interval(), interval, "is_interval of {input}");
            assert_eq!(d.is_exact_day(), exact, "is_exact_day of {input}");
            assert_eq!(d.to_string(), input);
            assert_eq!(input.parse::<EffectiveDate>(), Ok(d));
            assert!(d.contains(d.first_day()) && d.contains(d.last_day()));
        }
    }

    #[test]
    fn endpoints_keep_precision_and_qualifier() {
        let d = EffectiveDate::parse("2017-02?/2018-03-04%").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.start().precision(), Precision::Month);
        assert_eq!(d.start().qualifier(), Some(Qualifier::Uncertain));
        let end = d.end().unwrap_or_else(|| panic!("no end"));
        assert_eq!(end.precision(), Precision::Day);
        assert_eq!(end.qualifier(), Some(Qualifier::UncertainApproximate));
        let y = EffectiveDate::parse("2019~").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(y.start().precision(), Precision::Year);
        assert_eq!(y.start().qualifier(), Some(Qualifier::Approximate));
        assert_eq!(y.end(), None);
    }

    #[test]
    fn wrong_inputs() {
        // (input, a phrase the message must contain)
        let table: &[(&str, &str)] = &[
            ("2021-02-30", "February 2021 has 28 days"),
            ("2021-04-31", "April 2021 has 30 days"),
            ("2021-13", "there is no month 13"),
            ("2021-00", "there is no month 00"),
            ("2021-01-00", "there is no day 00"),
            ("2021-01-32", "January 2021 has 31 days"),
            ("1900-02-29", "February 1900 has 28 days"),
            ("2021-02-29", "February 2021 has 28 days"),
            ("0000", "there is no year 0000"),
            ("0000-01-01?", "there is no year 0000"),
            ("2020-02-30/2021", "February 2020 has 29 days"),
            ("2019/2021-13", "there is no month 13"),
            ("2018/2017", "is a reversed interval: it ends before it starts"),
            ("2018-03-05/2018-03-04", "reversed interval"),
            ("2018-04/2018-03-31", "reversed interval"),
            ("2018-03-05?/2018-03-04~", "reversed interval"),
            ("2020-12-09T10:00", "is not an effective date: expected YYYY"),
            ("2020-12-09T10:00Z", "not an effective date"),
            (" 2020", "not an effective date"),
            ("2020 ", "not an effective date"),
            ("2020-12 -09", "not an effective date"),
            ("2020\n", "not an effective date"),
            ("20", "not an effective date"),
            ("202", "not an effective date"),
            ("02020", "not an effective date"),
            ("12020", "not an effective date"),
            ("2020-1", "not an effective date"),
            ("2020-01-1", "not an effective date"),
            ("2020-001", "not an effective date"),
            ("2020-01-001", "not an effective date"),
            ("2020-01-01-01", "not an effective date"),
            ("+2020", "not an effective date"),
            ("-2020", "not an effective date"),
            ("2020-+1", "not an effective date"),
            ("2020??", "not an effective date"),
            ("2020?~", "not an effective date"),
            ("2020!", "not an effective date"),
            ("?2020", "not an effective date"),
            ("2020-?01", "not an effective date"),
            ("2020-01?-01", "not an effective date"),
            ("2019-21", "there is no month 21"),
            ("20X9", "not an effective date"),
            ("2019-XX", "not an effective date"),
            ("2019/..", "not an effective date"),
            ("../2019", "not an effective date"),
            ("/2019", "not an effective date"),
            ("2019/", "not an effective date"),
            ("/", "not an effective date"),
            ("2019//2020", "not an effective date"),
            ("2019/2020/2021", "not an effective date"),
            ("2019/2020-02-30/", "not an effective date"),
            ("a/b/c", "not an effective date"),
            ("2019 / 2020", "not an effective date"),
            ("2020.01.01", "not an effective date"),
            ("20200101", "not an effective date"),
            ("2020/01/01", "not an effective date"),
            ("日本", "not an effective date"),
            ("２０２０", "not an effective date"),
            ("2020-01-0١", "not an effective date"),
            ("Y12345", "not an effective date"),
            ("[2019,2020]", "not an effective date"),
            ("{2019..2020}", "not an effective date"),
            ("2019-12-09/2020-01-01T00:00", "not an effective date"),
        ];
        assert!(table.len() >= 20);
        for &(input, phrase) in table {
            let e = match EffectiveDate::parse(input) {
                Ok(d) => panic!("{input:?} accepted as {d}"),
                Err(e) => e,
            };
            let msg = e.to_string();
            let quoted = format!("`{}`", input.escape_debug());
            assert!(msg.contains(&quoted), "{msg:?} does not quote {input:?}");
            assert!(msg.contains(phrase), "{msg:?} lacks {phrase:?}");
            assert_one_sentence(&msg);
        }
    }

    fn assert_one_sentence(msg: &str) {
        assert!(msg.starts_with(|c: char| !c.is_uppercase()), "{msg:?}");
        assert!(!msg.ends_with('.'), "{msg:?}");
        assert!(!msg.contains('\n'), "{msg:?}");
    }

    #[test]
    fn exact_messages() {
        let cases = [
            ("2021-02-30", "`2021-02-30` is not a valid date: February 2021 has 28 days"),
            ("2018/2017", "`2018/2017` is a reversed interval: it ends before it starts"),
            (
                "2020-12-09T10:00",
                "`2020-12-09T10:00` is not an effective date: expected YYYY, YYYY-MM or YYYY-MM-DD, \
                 optionally followed by ?, ~ or %, or an interval A/B of two of them",
            ),
            (
                "",
                "the empty string is not an effective date: expected YYYY, YYYY-MM or YYYY-MM-DD, \
                 optionally followed by ?, ~ or %, or an interval A/B of two of them",
            ),
        ];
        for (input, expected) in cases {
            match EffectiveDate::parse(input) {
                Ok(d) => panic!("{input:?} accepted as {d}"),
                Err(e) => assert_eq!(e.to_string(), expected),
            }
        }
    }

    #[test]
    fn long_and_multibyte_input_gives_short_message() {
        let huge = "日".repeat(5_000_000);
        let msg = EffectiveDate::parse(&huge).err().map(|e| e.to_string());
        let msg = msg.unwrap_or_else(|| panic!("accepted"));
        assert!(msg.contains(&format!("`{}…`", "日".repeat(40))), "{msg}");
        assert!(msg.chars().count() < 200);
        // 40 characters are quoted whole; one more is cut with an ellipsis.
        let forty = "x".repeat(40);
        let e = EffectiveDate::parse(&forty).err().map(|e| e.to_string());
        assert_eq!(e.as_deref().map(|m| m.contains(&format!("`{forty}`"))), Some(true));
        let e = Day::parse("é".repeat(41).as_str()).err().map(|e| e.to_string());
        assert_eq!(e.as_deref().map(|m| m.contains(&format!("`{}…`", "é".repeat(40)))), Some(true));
        let slashes = "/".repeat(10_000_000);
        assert!(EffectiveDate::parse(&slashes).is_err());
    }

    #[test]
    fn day_parse_is_strict() {
        assert_eq!(Day::parse("2020-12-09").map(|d| d.to_string()), Ok("2020-12-09".to_string()));
        assert_eq!("2020-02-29".parse::<Day>().ok(), Day::from_ymd(2020, 2, 29));
        for bad in [
            "2020",
            "2020-12",
            "2020-12-09?",
            "2020-12-09~",
            "2020-12-09%",
            "2020-12-09/2020-12-10",
            "",
            " 2020-12-09",
            "2020-12-09T00:00",
            "+2020-12-09",
            "2020-1-09",
        ] {
            let e = match Day::parse(bad) {
                Ok(d) => panic!("{bad:?} accepted as {d}"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(&format!("`{bad}`")), "{e}");
            assert!(e.contains("is not a day: expected YYYY-MM-DD"), "{e}");
        }
        let e = Day::parse("2021-02-29").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("`2021-02-29` is not a valid date: February 2021 has 28 days"));
        assert!(Day::parse("0000-01-01").is_err());
    }

    #[test]
    fn day_bounds_and_steps() {
        assert_eq!(Day::from_ymd(1, 1, 1), Some(Day::MIN));
        assert_eq!(Day::from_ymd(9999, 12, 31), Some(Day::MAX));
        assert_eq!(Day::MIN.to_string(), "0001-01-01");
        assert_eq!(Day::MAX.to_string(), "9999-12-31");
        assert_eq!(Day::from_ymd(0, 12, 31), None);
        assert_eq!(Day::from_ymd(10000, 1, 1), None);
        assert_eq!(Day::from_ymd(2021, 2, 29), None);
        assert_eq!(Day::MIN.pred(), Day::MIN);
        assert_eq!(Day::MAX.succ(), Day::MAX);
        assert_eq!(day("2020-02-28").succ(), day("2020-02-29"));
        assert_eq!(day("2020-03-01").pred(), day("2020-02-29"));
        assert_eq!(day("2019-12-31").succ(), day("2020-01-01"));
        assert!(day("2019-12-31") < day("2020-01-01"));
        let n = day("2020-12-09").to_naive();
        assert_eq!((n.year(), n.month(), n.day()), (2020, 12, 9));
        assert_eq!(Day::from_naive(n), day("2020-12-09"));
        assert_eq!(Day::from_naive(NaiveDate::MIN), Day::MIN);
        assert_eq!(Day::from_naive(NaiveDate::MAX), Day::MAX);
        let today = Day::today_utc();
        assert!(Day::MIN < today && today < Day::MAX);
        assert!(EffectiveDate::from_day(today).is_exact_day());
    }

    #[test]
    fn serde_as_strings() {
        let d = EffectiveDate::parse("2017-02?/2018-03~").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json, r#""2017-02?/2018-03~""#);
        let back: EffectiveDate = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, d);
        let dj = serde_json::to_string(&day("2020-12-09")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dj, r#""2020-12-09""#);
        let back: Day = serde_json::from_str(&dj).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, day("2020-12-09"));
        // Reading from a reader cannot borrow, which a String handles.
        let from_reader: Result<Day, _> = serde_json::from_reader(dj.as_bytes());
        assert_eq!(from_reader.ok(), Some(day("2020-12-09")));
        let bad = serde_json::from_str::<EffectiveDate>(r#""2018/2017""#);
        let msg = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("reversed interval"), "{msg}");
        assert!(serde_json::from_str::<Day>(r#""2020""#).is_err());
        assert!(serde_json::from_str::<Day>("20201209").is_err());
    }

    /// Whatever `parse` does with `s`, it must not panic, and anything it
    /// accepts must print back exactly as written.
    fn check_any(s: &str) -> Result<(), TestCaseError> {
        match EffectiveDate::parse(s) {
            Ok(d) => {
                prop_assert_eq!(d.to_string(), s);
                prop_assert_eq!(EffectiveDate::parse(&d.to_string()), Ok(d));
                prop_assert!(d.first_day() <= d.last_day());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.chars().count() < 300);
                prop_assert!(!msg.contains('\n'));
            }
        }
        let _ = Day::parse(s);
        Ok(())
    }

    fn point_text(year: i32, month: u32, day: u32, precision: u8, qualifier: u8) -> String {
        let day = day.min(days_in_month(year, month));
        let mut s = match precision {
            0 => format!("{year:04}"),
            1 => format!("{year:04}-{month:02}"),
            _ => format!("{year:04}-{month:02}-{day:02}"),
        };
        if let Some(q) = ["", "?", "~", "%"].get(usize::from(qualifier)) {
            s.push_str(q);
        }
        s
    }

    fn point() -> impl Strategy<Value = String> {
        (1i32..=9999, 1u32..=12, 1u32..=31, 0u8..3, 0u8..4).prop_map(|(y, m, d, p, q)| point_text(y, m, d, p, q))
    }

    proptest! {
        #[test]
        fn never_panics_on_any_string(s in ".*") {
            check_any(&s)?;
        }

        #[test]
        fn never_panics_on_date_alphabet(s in "[0123456789/?~%X. T-]{0,25}") {
            check_any(&s)?;
        }

        #[test]
        fn never_panics_on_near_dates(
            s in "[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?(/[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?)?"
        ) {
            check_any(&s)?;
        }

        #[test]
        fn generated_dates_round_trip(a in point(), b in point(), interval in any::<bool>()) {
            let pa = EffectiveDate::parse(&a);
            prop_assert!(pa.is_ok(), "{} rejected", a);
            let pb = EffectiveDate::parse(&b);
            prop_assert!(pb.is_ok(), "{} rejected", b);
            for (s, d) in [(&a, pa), (&b, pb)] {
                let d = d.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(d.first_day() <= d.last_day());
                prop_assert_eq!(&d.to_string(), s);
                prop_assert_eq!(d.start().first_day(), d.first_day());
            }
            if interval {
                let text = format!("{a}/{b}");
                match EffectiveDate::parse(&text) {
                    Ok(d) => {
                        prop_assert!(d.is_interval());
                        prop_assert!(d.first_day() <= d.last_day());
                        prop_assert_eq!(d.to_string(), text.clone());
                        prop_assert_eq!(EffectiveDate::parse(&d.to_string()), Ok(d));
                    }
                    Err(e) => {
                        // Only a reversed interval may be refused.
                        prop_assert!(e.to_string().contains("reversed interval"), "{}", e);
                        let rev = format!("{b}/{a}");
                        prop_assert!(EffectiveDate::parse(&rev).is_ok(), "{} also rejected", rev);
                    }
                }
            }
        }
    }
}
