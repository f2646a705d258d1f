//! Live pages: the organization's rollups changed (new usage, and with it maybe a budget's
//! alert), so the page refetches what it shows.
use leptos::prelude::*;

/// Listens for "your totals changed" and bumps `updates`, which refetches what the page shows.
pub fn follow_rollups(organization_id: Signal<String>, updates: WriteSignal<u32>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let url = format!("/orgs/{}/usage/live", organization_id.get());
        let Ok(source) = web_sys::EventSource::new(&url) else { return };
        let on_rollup = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| updates.update(|n| *n += 1));
        let _ = source.add_event_listener_with_callback("rollup", on_rollup.as_ref().unchecked_ref());
        let listener = send_wrapper::SendWrapper::new((source, on_rollup));
        on_cleanup(move || listener.0.close());
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (organization_id, updates);
}
