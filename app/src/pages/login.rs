use leptos::prelude::*;

use crate::api::session::Login;
use crate::components::field_error::form_message;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = move || form_message(login.value().get());

    view! {
        <main class="login">
            <h1>"Log in to the billing portal"</h1>
            <ActionForm action=login attr:class="card form" attr:id="login-form">
                <Show when=move || error().is_some()>
                    <p class="form-error" id="login-error" role="alert">{error}</p>
                </Show>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"/>
                <button type="submit" id="login-submit">"Log in"</button>
            </ActionForm>
            <p><a href="/password-reset">"Forgot your password?"</a></p>
            <p>"New here? " <a href="/signup">"Create an account"</a></p>
        </main>
    }
}
