//! Stripe-like ids (`org_…`, `ns_…`, `key_…`): a prefix naming the kind, then 20 characters of
//! Crockford base32 that start with the creation time, so ids sort by age and index pages stay hot.
use rand::RngCore;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Debug, Clone, Copy)]
pub enum IdKind {
    Organization,
    User,
    Namespace,
    ApiKey,
    Audit,
    LoginFailure,
    Plan,
    PlanVersion,
    Subscription,
    SubscriptionTransition,
    PlanChange,
    Invoice,
    Credit,
    LedgerTransaction,
    Payment,
    CollectionEvent,
    Notification,
    TestPaymentMethod,
    TestPaymentIntent,
    TestRefund,
    TestEvent,
    ReconcileRun,
    IngestCommit,
    Signup,
    PasswordReset,
    Invitation,
    Coupon,
    PromotionCode,
    CouponRedemption,
    Budget,
    BudgetCrossing,
    WebhookEndpoint,
    WebhookEvent,
    WebhookDelivery,
    WebhookAttempt,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Organization => "org",
            Self::User => "usr",
            Self::Namespace => "ns",
            Self::ApiKey => "key",
            Self::Audit => "aud",
            Self::LoginFailure => "lf",
            Self::Plan => "plan",
            Self::PlanVersion => "pv",
            Self::Subscription => "sub",
            Self::SubscriptionTransition => "st",
            Self::PlanChange => "pc",
            Self::Invoice => "in",
            Self::Credit => "cr",
            Self::LedgerTransaction => "lt",
            Self::Payment => "pay",
            Self::CollectionEvent => "ce",
            Self::Notification => "ntf",
            // The test-mode processor names its objects the way Stripe does.
            Self::TestPaymentMethod => "pm_test",
            Self::TestPaymentIntent => "pi_test",
            Self::TestRefund => "re_test",
            Self::TestEvent => "evt_test",
            Self::ReconcileRun => "rec",
            Self::IngestCommit => "ic",
            Self::Signup => "sgn",
            Self::PasswordReset => "pwr",
            Self::Invitation => "inv",
            Self::Coupon => "cpn",
            Self::PromotionCode => "promo",
            Self::CouponRedemption => "rdm",
            Self::Budget => "bgt",
            Self::BudgetCrossing => "bx",
            Self::WebhookEndpoint => "we",
            Self::WebhookEvent => "msg",
            Self::WebhookDelivery => "wd",
            Self::WebhookAttempt => "wa",
        }
    }
}

/// 48 bits of milliseconds then 52 random bits: 100 bits, 20 characters.
pub fn new_id(kind: IdKind, now_ms: i64) -> String {
    let random = rand::thread_rng().next_u64() >> 12;
    let value: u128 = ((now_ms as u128 & 0xffff_ffff_ffff) << 52) | random as u128;
    let mut out = String::with_capacity(kind.prefix().len() + 21);
    out.push_str(kind.prefix());
    out.push('_');
    for i in (0..20).rev() {
        out.push(ALPHABET[((value >> (i * 5)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_kind_and_sort_by_creation_time() {
        let earlier = new_id(IdKind::Namespace, 1_700_000_000_000);
        let later = new_id(IdKind::Namespace, 1_700_000_000_001);
        assert!(earlier.starts_with("ns_"));
        assert_eq!(earlier.len(), 23);
        assert!(earlier < later);
    }

    #[test]
    fn ids_made_in_the_same_millisecond_differ() {
        assert_ne!(new_id(IdKind::ApiKey, 5), new_id(IdKind::ApiKey, 5));
    }
}
