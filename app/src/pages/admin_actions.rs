//! What staff do to a customer's service: suspend or lift a suspension, change the plan for the
//! customer after reviewing the same proration preview the owner would see, invite an owner.
use leptos::prelude::*;

use crate::api::admin::{AdminChangePlan, AdminPreviewPlanChange, InviteOwner, SuspendCustomer, UnsuspendCustomer};
use crate::components::confirm::StaffReason;
use crate::components::field_error::form_message;
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
            <ActionForm action=unsuspend attr:class="card form" attr:id="unsuspend-form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <StaffReason label="Lift the suspension (reason)" confirm="Confirm: lift the suspension"/>
                <button type="submit" id="unsuspend">"Lift suspension"</button>
                <p class="form-error" role="alert">{move || form_message(unsuspend.value().get())}</p>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <ActionForm action=suspend attr:class="card form" attr:id="suspend-form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <StaffReason label="Suspend every namespace (reason)" confirm="Confirm: suspend every namespace"/>
                <button type="submit" class="danger" id="suspend">"Suspend service"</button>
                <p class="form-error" role="alert">{move || form_message(suspend.value().get())}</p>
            </ActionForm>
        }
        .into_any()
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
                <section class="card" id="plan-preview">
                    <ProrationTable preview=p/>
                    <ActionForm action=confirm attr:class="form">
                        <input type="hidden" name="organization_id" value=org/>
                        <input type="hidden" name="plan" value=plan/>
                        <input type="hidden" name="token" value=token/>
                        <StaffReason label="Why staff change the plan (audit log)" id="staff-plan-reason"
                            confirm="Confirm: change the customer's plan"/>
                        <button type="submit" id="staff-confirm-change">"Change plan for the customer"</button>
                        <p class="form-error" role="alert">{move || form_message(confirm.value().get())}</p>
                    </ActionForm>
                </section>
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
                <StaffReason label="Why staff invite an owner (audit log)" id="invite-owner-reason"
                    confirm="Confirm: mail an owner's invitation"/>
                <button type="submit" id="send-owner-invitation">"Send invitation"</button>
                <p class="form-error" role="alert">{move || invite.value().get().and_then(Result::err).map(|e| e.message())}</p>
                {move || sent().then(|| view! { <p role="status" id="owner-invitation-sent">"Invitation sent."</p> })}
            </ActionForm>
        </details>
    }
}
