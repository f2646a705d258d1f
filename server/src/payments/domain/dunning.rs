//! The dunning schedule: after a failed payment, automatic retries on configured days, a warning
//! before the last one, suspension when the last one fails, cancellation on the final day.

pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunningPolicy {
    /// Days after the first failure on which the payment is retried, ascending.
    retry_days: Vec<u32>,
    /// The day the subscription is canceled and the invoice marked uncollectible.
    cancel_day: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DunningStep {
    Retry {
        day: u32,
        /// This retry's failure notice warns that the next failure suspends the service.
        warns_of_suspension: bool,
        /// Failing this retry suspends the subscription.
        suspends_on_failure: bool,
    },
    Cancel {
        day: u32,
    },
}

impl DunningStep {
    pub fn day(self) -> u32 {
        match self {
            Self::Retry { day, .. } | Self::Cancel { day } => day,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("retry days must be a comma-separated list of days, e.g. 3,7,10")]
    NotDays,
    #[error("retry days must be at least 1 and strictly ascending")]
    NotAscending,
    #[error("the cancel day must come after the last retry day")]
    CancelTooEarly,
}

impl DunningPolicy {
    pub fn new(retry_days: Vec<u32>, cancel_day: u32) -> Result<Self, PolicyError> {
        if retry_days.first().is_some_and(|&d| d == 0) || retry_days.windows(2).any(|w| w[0] >= w[1]) {
            return Err(PolicyError::NotAscending);
        }
        if retry_days.last().is_some_and(|&last| cancel_day <= last) || cancel_day == 0 {
            return Err(PolicyError::CancelTooEarly);
        }
        Ok(Self { retry_days, cancel_day })
    }

    /// `"3,7,10"` and `30`.
    pub fn parse(retry_days: &str, cancel_day: u32) -> Result<Self, PolicyError> {
        let days = retry_days
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.parse::<u32>().map_err(|_| PolicyError::NotDays))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(days, cancel_day)
    }

    /// The step at `index`, or None once the schedule has run out.
    pub fn step(&self, index: usize) -> Option<DunningStep> {
        let retries = self.retry_days.len();
        match index.cmp(&retries) {
            std::cmp::Ordering::Less => Some(DunningStep::Retry {
                day: self.retry_days[index],
                warns_of_suspension: retries >= 2 && index == retries - 2,
                suspends_on_failure: index == retries - 1,
            }),
            std::cmp::Ordering::Equal => Some(DunningStep::Cancel { day: self.cancel_day }),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// When the step at `index` runs for dunning that started at `started_at`.
    pub fn run_at(&self, started_at: i64, index: usize) -> Option<i64> {
        self.step(index).map(|step| started_at + i64::from(step.day()) * DAY_MS)
    }

    /// The day on which a failed retry suspends the service, if any retry does.
    pub fn suspension_day(&self) -> Option<u32> {
        self.retry_days.last().copied()
    }

    pub fn cancel_day(&self) -> u32 {
        self.cancel_day
    }
}

impl Default for DunningPolicy {
    fn default() -> Self {
        Self { retry_days: vec![3, 7, 10], cancel_day: 30 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_on_days_3_7_10_warns_on_7_suspends_after_10_cancels_on_30() {
        let policy = DunningPolicy::default();
        let steps: Vec<DunningStep> = (0..).map_while(|i| policy.step(i)).collect();
        assert_eq!(
            steps,
            vec![
                DunningStep::Retry { day: 3, warns_of_suspension: false, suspends_on_failure: false },
                DunningStep::Retry { day: 7, warns_of_suspension: true, suspends_on_failure: false },
                DunningStep::Retry { day: 10, warns_of_suspension: false, suspends_on_failure: true },
                DunningStep::Cancel { day: 30 },
            ]
        );
        assert_eq!(policy.run_at(1_000, 1), Some(1_000 + 7 * DAY_MS));
        assert_eq!(policy.run_at(1_000, 4), None);
        assert_eq!(policy.suspension_day(), Some(10));
    }

    #[test]
    fn a_schedule_without_retries_goes_straight_to_cancellation() {
        let policy = DunningPolicy::parse("", 14).unwrap();
        assert_eq!(policy.step(0), Some(DunningStep::Cancel { day: 14 }));
        assert_eq!(policy.suspension_day(), None);
    }

    #[test]
    fn a_single_retry_suspends_without_an_earlier_warning() {
        let policy = DunningPolicy::parse("5", 20).unwrap();
        assert_eq!(
            policy.step(0),
            Some(DunningStep::Retry { day: 5, warns_of_suspension: false, suspends_on_failure: true })
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_a_reason() {
        assert_eq!(DunningPolicy::parse("3,x", 30), Err(PolicyError::NotDays));
        assert_eq!(DunningPolicy::parse("7,3", 30), Err(PolicyError::NotAscending));
        assert_eq!(DunningPolicy::parse("0,3", 30), Err(PolicyError::NotAscending));
        assert_eq!(DunningPolicy::parse("3,7,10", 10), Err(PolicyError::CancelTooEarly));
        assert_eq!(DunningPolicy::parse(" 3, 7 ,10 ", 30), Ok(DunningPolicy::default()));
    }
}
