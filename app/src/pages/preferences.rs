//! The signed-in person's own settings: the time zone the portal's times read in.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::Preferences;
use crate::api::session::{SetTimeZone, get_preferences};
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::successes::successes;
use crate::components::toast::toast_on_success;

#[component]
pub fn PreferencesPage() -> impl IntoView {
    let save = ServerAction::<SetTimeZone>::new();
    toast_on_success(save, "Preferences saved.");
    let saved = successes(save);
    let organization_id = use_organization_id();
    let preferences = Resource::new(move || (organization_id.get(), saved.get()), |(org, _)| get_preferences(org));
    view! {
        <Title text="Your preferences · Billing portal"/>
        <h1>"Your preferences"</h1>
        <Transition fallback=|| view! { <Loading what="your preferences"/> }>
            {move || Suspend::new(async move {
                match preferences.await {
                    Ok(p) => view! { <TimeZoneForm preferences=p save/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TimeZoneForm(preferences: Preferences, save: ServerAction<SetTimeZone>) -> impl IntoView {
    let browser = preferences.browser_time_zone.clone().unwrap_or_else(|| "not known yet".to_owned());
    let chosen = preferences.time_zone.clone().unwrap_or_default();
    let error = Signal::derive(move || field_message(save.value().get(), "time_zone"));
    view! {
        <section class="card" aria-labelledby="time-zone-heading">
            <h2 id="time-zone-heading">"Time zone"</h2>
            <p>"Signed in as " <strong>{preferences.email}</strong></p>
            <ActionForm action=save attr:class="form" attr:id="time-zone-form">
                <label for="time-zone">"Show times in"</label>
                <select id="time-zone" name="time_zone" aria-describedby="time-zone-hint time-zone-error">
                    <option value="" selected=chosen.is_empty()>{format!("My browser's time zone ({browser})")}</option>
                    {preferences.time_zones.into_iter().map(|zone| {
                        let (selected, label) = (zone == chosen, zone.clone());
                        view! { <option value=zone selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
                <p class="hint" id="time-zone-hint">
                    "The time now reads " <strong id="time-zone-now">{preferences.now}</strong>
                    ". Mail, invoices and CSV exports keep UTC."
                </p>
                <FieldError id="time-zone-error" message=error/>
                <button type="submit" id="save-time-zone">"Save time zone"</button>
            </ActionForm>
        </section>
    }
}
