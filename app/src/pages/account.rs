//! Pages for visitors: signing up, confirming the email, resetting a forgotten password and
//! accepting an invitation to a team.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::account::{ConfirmSignUp, RequestPasswordReset, ResetPassword, SignUp};
use crate::api::team::AcceptInvitation;
use crate::components::action_result::ActionResult;
use crate::components::field_error::{FieldError, field_message, form_message};

/// The one-time token of a mailed link, from `?token=`.
fn link_token() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("token").unwrap_or_default())
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let sign_up = ServerAction::<SignUp>::new();
    let error_of = move |field: &'static str| Signal::derive(move || field_message(sign_up.value().get(), field));
    let form_error = move || form_message(sign_up.value().get());
    let sent = move || matches!(sign_up.value().get(), Some(Ok(())));
    view! {
        <Title text="Sign up · Billing portal"/>
        <main class="login">
            <h1>"Create your account"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <ActionForm action=sign_up attr:class="card form" attr:id="signup-form">
                        <p class="form-error" role="alert">{form_error}</p>
                        <label for="signup-email">"Work email"</label>
                        <input id="signup-email" name="email" type="email" autocomplete="email" required maxlength="254"
                            aria-describedby="signup-email-error"/>
                        <FieldError id="signup-email-error" message=error_of("email")/>
                        <label for="signup-organization">"Organization name"</label>
                        <input id="signup-organization" name="organization_name" autocomplete="organization" required
                            maxlength="100" aria-describedby="signup-organization-error"/>
                        <FieldError id="signup-organization-error" message=error_of("organization_name")/>
                        <label for="signup-password">"Password"</label>
                        <input id="signup-password" name="password" type="password" autocomplete="new-password" required
                            minlength="10" maxlength="1024" aria-describedby="signup-password-hint signup-password-error"/>
                        <p class="hint" id="signup-password-hint">"At least 10 characters; a few unrelated words work well."</p>
                        <FieldError id="signup-password-error" message=error_of("password")/>
                        <button type="submit" id="signup-submit">"Create account"</button>
                    </ActionForm>
                }
            >
                <Outcome id="signup-sent" title="Check your inbox">
                    <p>"We sent a link to confirm your email. It works once, for 24 hours; your organization is created when you open it."</p>
                </Outcome>
            </Show>
            <p>"Already have an account? " <a href="/login">"Log in"</a></p>
        </main>
    }
}

#[component]
pub fn ConfirmSignUpPage() -> impl IntoView {
    let confirm = ServerAction::<ConfirmSignUp>::new();
    let token = link_token();
    let error = move || form_message(confirm.value().get()).or_else(|| field_message(confirm.value().get(), "token"));
    let password_error = Signal::derive(move || field_message(confirm.value().get(), "password"));
    view! {
        <Title text="Confirm your email · Billing portal"/>
        <main class="login">
            <h1>"Confirm your email"</h1>
            // A button, not the link itself: mail scanners that open links must not use them up.
            <ActionForm action=confirm attr:class="card form" attr:id="confirm-form">
                <p class="form-error" id="confirm-error" role="alert">{error}</p>
                <input type="hidden" name="token" value=token/>
                <p>"Enter the password you chose when signing up to create your organization and log in."</p>
                <label for="confirm-password">"Password"</label>
                <input id="confirm-password" name="password" type="password" autocomplete="current-password" required
                    maxlength="1024" aria-describedby="confirm-password-error"/>
                <FieldError id="confirm-password-error" message=password_error/>
                <button type="submit" id="confirm-submit">"Confirm and continue"</button>
            </ActionForm>
            <p><a href="/signup">"Sign up again"</a>" · "<a href="/login">"Log in"</a></p>
        </main>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let request = ServerAction::<RequestPasswordReset>::new();
    let error_of = move |field: &'static str| Signal::derive(move || field_message(request.value().get(), field));
    let form_error = move || form_message(request.value().get());
    let sent = move || matches!(request.value().get(), Some(Ok(())));
    view! {
        <Title text="Reset your password · Billing portal"/>
        <main class="login">
            <h1>"Reset your password"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <ActionForm action=request attr:class="card form" attr:id="reset-request-form">
                        <p class="form-error" role="alert">{form_error}</p>
                        <label for="reset-email">"Email"</label>
                        <input id="reset-email" name="email" type="email" autocomplete="email" required maxlength="254"
                            aria-describedby="reset-email-error"/>
                        <FieldError id="reset-email-error" message=error_of("email")/>
                        <button type="submit" id="reset-request-submit">"Send a reset link"</button>
                    </ActionForm>
                }
            >
                <Outcome id="reset-sent" title="Check your inbox">
                    <p>"If an account uses this address, a link to choose a new password is on its way. It works once, for an hour."</p>
                </Outcome>
            </Show>
            <p><a href="/login">"Back to log in"</a></p>
        </main>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let reset = ServerAction::<ResetPassword>::new();
    let token = link_token();
    let error_of = move |field: &'static str| Signal::derive(move || field_message(reset.value().get(), field));
    let form_error = move || form_message(reset.value().get()).or_else(|| field_message(reset.value().get(), "token"));
    let done = move || matches!(reset.value().get(), Some(Ok(())));
    view! {
        <Title text="Choose a new password · Billing portal"/>
        <main class="login">
            <h1>"Choose a new password"</h1>
            <Show
                when=done
                fallback=move || view! {
                    <ActionForm action=reset attr:class="card form" attr:id="reset-form">
                        <p class="form-error" id="reset-error" role="alert">{form_error}</p>
                        <input type="hidden" name="token" value=token/>
                        <label for="new-password">"New password"</label>
                        <input id="new-password" name="password" type="password" autocomplete="new-password" required
                            minlength="10" maxlength="1024" aria-describedby="new-password-error"/>
                        <FieldError id="new-password-error" message=error_of("password")/>
                        <button type="submit" id="reset-submit">"Set password"</button>
                    </ActionForm>
                }
            >
                <Outcome id="password-changed" title="Password changed">
                    <p>"You were logged out everywhere. " <a href="/login">"Log in"</a>" with your new password."</p>
                </Outcome>
            </Show>
        </main>
    }
}

/// What a visitor's finished step led to, announced to screen readers as it appears.
#[component]
fn Outcome(id: &'static str, title: &'static str, children: Children) -> impl IntoView {
    view! {
        <ActionResult id=id class="card">
            <div role="status">
                <h2>{title}</h2>
                {children()}
            </div>
        </ActionResult>
    }
}

#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let token = link_token();
    let error = move || form_message(accept.value().get()).or_else(|| field_message(accept.value().get(), "token"));
    let password_error = Signal::derive(move || field_message(accept.value().get(), "password"));
    view! {
        <Title text="Join your team · Billing portal"/>
        <main class="login">
            <h1>"Join your team"</h1>
            // A button, not the link itself: mail scanners that open links must not use them up.
            <ActionForm action=accept attr:class="card form" attr:id="accept-form">
                <p class="form-error" id="accept-error" role="alert">{error}</p>
                <input type="hidden" name="token" value=token/>
                <p>"New here? Choose a password for your account. Already have one? Enter its password."</p>
                <label for="accept-password">"Password"</label>
                <input id="accept-password" name="password" type="password" autocomplete="new-password" required
                    maxlength="1024" aria-describedby="accept-password-hint accept-password-error"/>
                <p class="hint" id="accept-password-hint">"A new password needs at least 10 characters."</p>
                <FieldError id="accept-password-error" message=password_error/>
                <button type="submit" id="accept-submit">"Accept invitation"</button>
            </ActionForm>
            <p><a href="/login">"Log in"</a></p>
        </main>
    }
}
