//! Toasts: a short note that an action was done, announced politely and gone after a few seconds,
//! for actions whose effect is elsewhere on the page (a row added, a setting saved).
use std::time::Duration;

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Long enough to read a sentence twice; the note can also be dismissed.
const SHOWN_FOR: Duration = Duration::from_secs(8);

#[derive(Clone, Copy)]
pub struct Toasts {
    shown: RwSignal<Vec<(u64, String)>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    pub fn show(self, message: String) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.shown.update(|shown| shown.push((id, message)));
        set_timeout(move || self.dismiss(id), SHOWN_FOR);
    }

    fn dismiss(self, id: u64) {
        self.shown.update(|shown| shown.retain(|(shown_id, _)| *shown_id != id));
    }
}

/// Makes toasts available below; `ToastRegion` shows them. The region sits in the organization
/// layout and the staff header rather than here, so its code stays out of the first download.
pub fn provide_toasts() {
    provide_context(Toasts { shown: RwSignal::new(Vec::new()), next_id: StoredValue::new(0) });
}

/// The one live region toasts appear in; it stays in the page, empty, so screen readers announce
/// what is added to it.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = expect_context::<Toasts>();
    view! {
        <div class="toasts" id="toasts" role="status" aria-live="polite">
            {move || toasts.shown.get().into_iter().map(|(id, message)| view! {
                <p class="toast">
                    <span>{message}</span>
                    <button type="button" class="dismiss" aria-label="Dismiss" on:click=move |_| toasts.dismiss(id)>"×"</button>
                </p>
            }).collect_view()}
        </div>
    }
}

/// Shows `message` each time `action` succeeds from now on (not for a success the page already
/// had when this was called).
pub fn toast_on_success<S>(action: ServerAction<S>, message: impl Into<String>)
where
    S: ServerFn + Send + Sync + Clone + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let Some(toasts) = use_context::<Toasts>() else { return };
    let message = message.into();
    Effect::new(move |previous: Option<()>| {
        let succeeded = action.value().with(|value| matches!(value, Some(Ok(_))));
        if previous.is_some() && succeeded {
            toasts.show(message.clone());
        }
    });
}
