//! The states of a payment attempt, a collection timer and a processor event, as stored.

/// `as_str` and `parse` from one list of stored names.
macro_rules! stored_names {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// A charge attempt: written `pending` before the processor is called, settled once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
}
stored_names!(PaymentStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" });

/// An invoice's collection timer: running (`Collecting`, `PastDue` once dunning has started),
/// or finished for one of the other reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionStatus {
    Collecting,
    PastDue,
    Paid,
    Stopped,
    Canceled,
}
stored_names!(CollectionStatus {
    Collecting => "collecting",
    PastDue => "past_due",
    Paid => "paid",
    Stopped => "stopped",
    Canceled => "canceled",
});

/// A processor event in the inbox: due (`Pending`, `Failed` until its next attempt), or settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    Pending,
    Failed,
    Processed,
    Ignored,
    Parked,
}
stored_names!(InboxStatus {
    Pending => "pending",
    Failed => "failed",
    Processed => "processed",
    Ignored => "ignored",
    Parked => "parked",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_stored_name() {
        use CollectionStatus::*;
        for status in [PaymentStatus::Pending, PaymentStatus::Succeeded, PaymentStatus::Failed] {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
        for status in [Collecting, PastDue, Paid, Stopped, Canceled] {
            assert_eq!(CollectionStatus::parse(status.as_str()), Some(status));
        }
        use InboxStatus as I;
        for status in [I::Pending, I::Failed, I::Processed, I::Ignored, I::Parked] {
            assert_eq!(InboxStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PaymentStatus::parse("refunded"), None);
    }
}
