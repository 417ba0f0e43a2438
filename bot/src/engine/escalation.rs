//! When the bot hands a conversation to a person on its own, and when people are there at all.
//!
//! Each trigger is recorded as the `reason` of the `handoff_requested` event: the customer
//! asked (button, words, `/human`), the bot could not answer twice in a row, the customer is
//! strongly upset, or a valuable or at-risk customer raises a sensitive topic (billing,
//! cancellation, complaint). Business hours decide what the customer is told.

use std::fmt;
use std::str::FromStr;

use time::{OffsetDateTime, UtcOffset, Weekday};

/// The configurable escalation policy.
#[derive(Debug, Clone)]
pub struct EscalationPolicy {
    /// Hand over after this many consecutive questions the bot could not answer (None: never).
    pub unanswered_limit: Option<i64>,
    /// Hand over when a message's compound sentiment is at or below this (None: never).
    pub negative_sentiment: Option<f64>,
    /// Words and phrases of sensitive topics; a high-value or at-risk customer who raises one
    /// is handed to a person.
    pub sensitive_topics: Vec<String>,
    /// When people answer; `None`: always.
    pub business_hours: Option<BusinessHours>,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        EscalationPolicy {
            unanswered_limit: Some(2),
            negative_sentiment: Some(-0.6),
            sensitive_topics: [
                "cancel",
                "cancellation",
                "cancelling",
                "unsubscribe",
                "close my account",
                "refund",
                "billing",
                "bill",
                "charge",
                "charged",
                "invoice",
                "payment",
                "complaint",
                "complain",
                "lawyer",
            ]
            .map(str::to_owned)
            .to_vec(),
            business_hours: None,
        }
    }
}

impl EscalationPolicy {
    /// Whether `text` raises one of the sensitive topics (whole words, any case).
    pub fn sensitive_topic(&self, text: &str) -> Option<&str> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let joined = format!(" {} ", words.join(" "));
        self.sensitive_topics
            .iter()
            .find(|topic| joined.contains(&format!(" {} ", topic.to_lowercase())))
            .map(String::as_str)
    }
}

/// Opening hours: the same hours on a set of weekdays, at a fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after midnight.
    pub open: u16,
    pub close: u16,
    pub offset: UtcOffset,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_time(raw: &str) -> Option<u16> {
    let (h, m) = raw.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

fn parse_offset(raw: &str) -> Option<UtcOffset> {
    if raw.eq_ignore_ascii_case("utc") || raw == "Z" {
        return Some(UtcOffset::UTC);
    }
    let sign = match raw.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let minutes = parse_time(&raw[1..])?;
    let h = i8::try_from(minutes / 60).ok()? * sign;
    let m = i8::try_from(minutes % 60).ok()? * sign;
    UtcOffset::from_hms(h, m, 0).ok()
}

impl FromStr for BusinessHours {
    type Err = String;

    /// `"Mon-Fri 09:00-17:00 +01:00"`, `"Mon,Wed,Sat 10:00-14:00 UTC"`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "business hours {s:?}: expected e.g. \"Mon-Fri 09:00-17:00 +01:00\" (days, hours, UTC offset)"
            )
        };
        let parts: Vec<&str> = s.split_whitespace().collect();
        let [days_raw, hours_raw, offset_raw] = parts.as_slice() else {
            return Err(bad());
        };
        let day = |d: &str| DAYS.iter().position(|x| d.eq_ignore_ascii_case(x));
        let mut days = [false; 7];
        for piece in days_raw.split(',') {
            match piece.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
                    let mut i = a;
                    loop {
                        days[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => days[day(piece).ok_or_else(bad)?] = true,
            }
        }
        let (open, close) = hours_raw.split_once('-').ok_or_else(bad)?;
        let (open, close) = (
            parse_time(open).ok_or_else(bad)?,
            parse_time(close).ok_or_else(bad)?,
        );
        if open >= close {
            return Err(bad());
        }
        let offset = parse_offset(offset_raw).ok_or_else(bad)?;
        Ok(BusinessHours {
            days,
            open,
            close,
            offset,
        })
    }
}

fn weekday_index(day: Weekday) -> usize {
    usize::from(day.number_days_from_monday())
}

impl BusinessHours {
    pub fn is_open(&self, at: OffsetDateTime) -> bool {
        let local = at.to_offset(self.offset);
        let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
        self.days[weekday_index(local.weekday())] && minute >= self.open && minute < self.close
    }

    /// The next opening after `at` (local time of the business), if any day is open.
    pub fn next_open(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let local = at.to_offset(self.offset);
        let open_time = time::Time::from_hms(
            u8::try_from(self.open / 60).ok()?,
            u8::try_from(self.open % 60).ok()?,
            0,
        )
        .ok()?;
        (0..=7).find_map(|ahead| {
            let date = local.date().checked_add(time::Duration::days(ahead))?;
            let candidate = date.with_time(open_time).assume_offset(self.offset);
            (self.days[weekday_index(date.weekday())] && candidate > local).then_some(candidate)
        })
    }
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = DAYS
            .iter()
            .zip(self.days)
            .filter(|(_, on)| *on)
            .map(|(d, _)| *d)
            .collect();
        write!(
            f,
            "{} {:02}:{:02}-{:02}:{:02} {}",
            days.join(","),
            self.open / 60,
            self.open % 60,
            self.close / 60,
            self.close % 60,
            self.offset
        )
    }
}

/// "Monday 09:00 (UTC+01:00)": when we are back, in words for the customer.
pub fn describe_opening(at: OffsetDateTime) -> String {
    let (h, m, _) = at.offset().as_hms();
    format!(
        "{} {:02}:{:02} (UTC{}{:02}:{:02})",
        at.weekday(),
        at.hour(),
        at.minute(),
        if h < 0 || m < 0 { '-' } else { '+' },
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// The first email address in `text`, if any (for "leave a message and a contact address").
pub fn find_email(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ':' | '"' | '\'')))
        .find(|w| {
            w.len() <= 254
                && w.split_once('@').is_some_and(|(user, domain)| {
                    !user.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                })
        })
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_business_hours() {
        let hours: BusinessHours = "Mon-Fri 09:00-17:30 +01:00"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hours.days, [true, true, true, true, true, false, false]);
        assert_eq!((hours.open, hours.close), (540, 1050));
        let weekend: BusinessHours = "Sat,Sun 10:00-14:00 UTC"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            weekend.days,
            [false, false, false, false, false, true, true]
        );
        let wrap: BusinessHours = "Fri-Mon 10:00-14:00 -05:00"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(wrap.days, [true, false, false, false, true, true, true]);
        for bad in [
            "",
            "Mon-Fri",
            "Mon-Fri 17:00-09:00 UTC",
            "Mon-Xyz 09:00-17:00 UTC",
            "Mon 9-17 UTC",
            "Mon 09:00-17:00 CET",
        ] {
            assert!(bad.parse::<BusinessHours>().is_err(), "{bad}");
        }
    }

    #[test]
    fn open_and_next_opening_follow_the_offset() {
        let hours: BusinessHours = "Mon-Fri 09:00-17:00 +01:00"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        // Monday 2026-11-23 08:30 UTC is 09:30 in +01:00: open.
        assert!(hours.is_open(datetime!(2026-11-23 08:30 UTC)));
        // Friday 16:30 UTC is 17:30 local: closed; next opening Monday 09:00 local.
        let friday = datetime!(2026-11-27 16:30 UTC);
        assert!(!hours.is_open(friday));
        let next = hours.next_open(friday);
        assert_eq!(next, Some(datetime!(2026-11-30 09:00 +01:00)));
        assert_eq!(
            next.map(describe_opening).as_deref(),
            Some("Monday 09:00 (UTC+01:00)")
        );
        // Early Tuesday: opens the same day.
        assert_eq!(
            hours.next_open(datetime!(2026-11-24 05:00 UTC)),
            Some(datetime!(2026-11-24 09:00 +01:00))
        );
    }

    #[test]
    fn sensitive_topics_match_whole_words() {
        let policy = EscalationPolicy::default();
        assert_eq!(
            policy.sensitive_topic("I want to CANCEL my subscription"),
            Some("cancel")
        );
        assert_eq!(
            policy.sensitive_topic("please close my account now"),
            Some("close my account")
        );
        assert_eq!(
            policy.sensitive_topic("you charged me twice"),
            Some("charged")
        );
        assert_eq!(
            policy.sensitive_topic("which teas are billed as organic"),
            None
        );
        assert_eq!(policy.sensitive_topic("how long does delivery take"), None);
    }

    #[test]
    fn finds_a_contact_address() {
        assert_eq!(
            find_email("reach me at Ann@Example.com."),
            Some("ann@example.com".into())
        );
        assert_eq!(
            find_email("mail: <bo@shop.co.uk>"),
            Some("bo@shop.co.uk".into())
        );
        assert_eq!(find_email("no address here @ all"), None);
        assert_eq!(find_email("a@b"), None);
    }
}
