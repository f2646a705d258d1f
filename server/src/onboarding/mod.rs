//! The ways in that need no one's help: signing up with an email confirmed by a mailed link, and
//! getting back in through a password-reset link. Both mail through the notifications outbox.
pub mod invitations;
pub mod mail_throttle;
pub mod password_reset;
pub mod signup;
