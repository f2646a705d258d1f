//! Page data that depends on what an action changed, not on every submit.
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// How many times `action` has succeeded. A page keyed on this reloads its data after a change,
/// while a refused submit leaves the page as it is, with its errors and any open dialog.
pub fn successes<S>(action: ServerAction<S>) -> ReadSignal<usize>
where
    S: ServerFn + Send + Sync + Clone + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let (count, set_count) = signal(0);
    Effect::new(move |_| {
        if action.value().with(|value| matches!(value, Some(Ok(_)))) {
            set_count.update(|n| *n += 1);
        }
    });
    count
}
