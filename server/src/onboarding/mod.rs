//! The ways in: signing up with an email confirmed by a mailed link, getting back in through a
//! password-reset link, joining a team by invitation, and customers staff create for someone sold
//! to by hand. All mail through the notifications outbox.
pub mod invitations;
pub mod mail_throttle;
pub mod password_reset;
pub mod signup;
pub mod staff_customers;
