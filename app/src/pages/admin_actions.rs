//! What staff do to a customer's service: suspend or lift a suspension, change the plan for the
//! customer after reviewing the same proration preview the owner would see, invite an owner, set
//! its own ingestion rate.
use leptos::prelude::*;

use crate::api::admin::{
    AdminChangePlan, AdminPreviewPlanChange, InviteOwner, SetIngestQuota, SuspendCustomer, UnsuspendCustomer,
};
use crate::components::action_result::ActionResult;
use crate::components::confirm::{ActionDialog, ReasonField};
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::proration::ProrationTable;

#[component]
pub fn SuspensionForm(
    suspend: ServerAction<SuspendCustomer>,
    unsuspend: ServerAction<UnsuspendCustomer>,
    organization_id: String,
    suspended: bool,
) -> impl IntoView {
    if suspended {
        view! {
            <ActionForm action=unsuspend attr:class="action" attr:id="unsuspend-form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <ActionDialog id="unsuspend-dialog" open="Lift the suspension…" title="Lift the suspension?"
                    effect="Every namespace accepts work again at once, and the subscription is active."
                    confirm="Lift suspension" confirm_id="unsuspend">
                    <ReasonField id="unsuspend-reason"/>
                    <p class="form-error" role="alert">{move || form_message(unsuspend.value().get())}</p>
                </ActionDialog>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <ActionForm action=suspend attr:class="action" attr:id="suspend-form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <ActionDialog id="suspend-dialog" open="Suspend service…" title="Suspend every namespace?" danger=true
                    effect="The platform will stop accepting work for every namespace of this customer until staff \
                            lift the suspension, and the customer is notified. Usage that still arrives is recorded and billed."
                    confirm="Suspend service" confirm_id="suspend">
                    <ReasonField id="suspend-reason"/>
                    <p class="form-error" role="alert">{move || form_message(suspend.value().get())}</p>
                </ActionDialog>
            </ActionForm>
        }
        .into_any()
    }
}

/// The customer's own limit on `POST /v1/usage/events`, in place of the portal's.
#[component]
pub fn IngestQuotaForm(
    action: ServerAction<SetIngestQuota>,
    organization_id: String,
    current: String,
) -> impl IntoView {
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    view! {
        <ActionForm action attr:class="action" attr:id="ingest-quota-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <ActionDialog id="ingest-quota-dialog" open="Set the ingestion quota…" title="Set this customer's ingestion quota?"
                effect="From its next batch, this customer's usage events are accepted up to this many a second \
                        (each instance its share, with a burst of one second's worth and never less than a batch of \
                        1,000); batches beyond it are refused with 429 and Retry-After \
                        and stored only when sent again. Usage already accepted is never dropped."
                confirm="Set quota" confirm_id="set-ingest-quota">
                <label for="ingest-quota-rate">"Events a second"</label>
                <input id="ingest-quota-rate" name="events_per_second" inputmode="numeric" value=current
                    aria-describedby="ingest-quota-hint ingest-quota-rate-error"/>
                <p class="hint" id="ingest-quota-hint">"Empty: the portal's setting. 0: no limit for this customer."</p>
                <FieldError id="ingest-quota-rate-error" message=error_of("events_per_second")/>
                <ReasonField id="ingest-quota-reason"/>
                <FieldError id="ingest-quota-reason-error" message=error_of("reason")/>
                <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            </ActionDialog>
        </ActionForm>
    }
}

#[component]
pub fn PlanChangeForStaff(
    preview: ServerAction<AdminPreviewPlanChange>,
    confirm: ServerAction<AdminChangePlan>,
    organization_id: String,
    plans: Vec<String>,
) -> impl IntoView {
    let confirm_org = organization_id.clone();
    view! {
        <ActionForm action=preview attr:class="card form" attr:id="staff-plan-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <label>"Move to plan "
                <select name="plan" id="staff-plan">
                    {plans.into_iter().map(|p| { let value = p.clone(); view! { <option value=value>{p}</option> } }).collect_view()}
                </select>
            </label>
            <button type="submit" id="staff-preview">"Preview change"</button>
            <p class="form-error" role="alert">{move || form_message(preview.value().get())}</p>
        </ActionForm>
        {move || preview.value().get().and_then(Result::ok).map(|p| {
            let (plan, token, org) = (p.to_plan.clone(), p.token.clone(), confirm_org.clone());
            view! {
                <ActionResult id="plan-preview" class="card">
                    <ProrationTable preview=p/>
                    <ActionForm action=confirm attr:class="action">
                        <input type="hidden" name="organization_id" value=org/>
                        <input type="hidden" name="plan" value=plan.clone()/>
                        <input type="hidden" name="token" value=token/>
                        <ActionDialog id="staff-plan-dialog" open="Change the plan…" title=format!("Move the customer to {plan}?")
                            effect="The change takes effect as previewed above, with its proration on the next invoice."
                            confirm="Change plan for the customer" confirm_id="staff-confirm-change">
                            <ReasonField id="staff-plan-reason"/>
                            <p class="form-error" role="alert">{move || form_message(confirm.value().get())}</p>
                        </ActionDialog>
                    </ActionForm>
                </ActionResult>
            }
        })}
    }
    .into_any()
}

/// When nobody inside the customer can invite anyone (the first owner's link lapsed, the owners
/// left), staff invite an owner by mail.
#[component]
pub fn InviteOwnerForm(invite: ServerAction<InviteOwner>, organization_id: String) -> impl IntoView {
    let sent = move || matches!(invite.value().get(), Some(Ok(())));
    view! {
        <details class="card" id="invite-owner">
            <summary>"Invite an owner"</summary>
            <ActionForm action=invite attr:class="form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <label for="invite-owner-email">"Email"</label>
                <input id="invite-owner-email" name="email" type="email" required maxlength="254"/>
                <ReasonField id="invite-owner-reason"/>
                <button type="submit" id="send-owner-invitation">"Send invitation"</button>
                <p class="form-error" role="alert">{move || invite.value().get().and_then(Result::err).map(|e| e.message())}</p>
                {move || sent().then(|| view! { <p role="status" id="owner-invitation-sent">"Invitation sent."</p> })}
            </ActionForm>
        </details>
    }
}
