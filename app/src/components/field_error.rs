use leptos::prelude::*;

use crate::api::error::AppError;

/// The message under one input, when the last submission failed on that field.
pub fn field_message<T>(outcome: Option<Result<T, AppError>>, field: &str) -> Option<String> {
    match outcome {
        Some(Err(error)) if error.field() == Some(field) => Some(error.message()),
        _ => None,
    }
}

/// The message at the top of a form, for failures that belong to no single field.
pub fn form_message<T>(outcome: Option<Result<T, AppError>>) -> Option<String> {
    match outcome {
        Some(Err(error)) if error.field().is_none() => Some(error.message()),
        _ => None,
    }
}

#[component]
pub fn FieldError(#[prop(into)] id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || message.get().is_some()>
            <p class="field-error" id=id.clone() role="alert">{move || message.get()}</p>
        </Show>
    }
}
