use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::billing::{
    CancelSubscription, ConfirmPlanChange, KeepSubscription, PreviewPlanChange, PreviewPromotionCode,
    RedeemPromotionCode, StartPlan, get_plan_page,
};
use crate::api::dto::Role;
use crate::api::dto::billing::{ActiveDiscount, PlanChangePreview, PlanOption, PromotionPreview};
use crate::api::session::whoami;
use crate::components::action_result::ActionResult;
use crate::components::error_view::ErrorView;
use crate::components::field_error::form_message;
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::proration::ProrationTable;
use crate::components::status::StatusBadge;
use crate::components::toast::toast_on_success;

/// The plans on offer; owners preview a change with its proration and confirm it.
#[component]
pub fn PlanPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let preview = ServerAction::<PreviewPlanChange>::new();
    let confirm = ServerAction::<ConfirmPlanChange>::new();
    let cancel = ServerAction::<CancelSubscription>::new();
    toast_on_success(cancel, "Cancellation scheduled for the end of the period.");
    let keep = ServerAction::<KeepSubscription>::new();
    toast_on_success(keep, "Your subscription continues.");
    let start = ServerAction::<StartPlan>::new();
    toast_on_success(start, "Plan started.");
    let redeem = ServerAction::<RedeemPromotionCode>::new();
    toast_on_success(redeem, "Promotion code applied.");
    let page = Resource::new(
        move || {
            let versions = (
                confirm.version().get(),
                cancel.version().get(),
                keep.version().get(),
                start.version().get(),
                redeem.version().get(),
            );
            (organization_id.get(), versions)
        },
        |(org, _)| get_plan_page(org),
    );
    let user = Resource::new(|| (), |_| whoami());

    view! {
        <Title text="Plan · Billing portal"/>
        <h1>"Plan"</h1>
        <Suspense fallback=|| view! { <Loading what="the plans"/> }>
            {move || Suspend::new(async move {
                let page = match page.await {
                    Ok(page) => page,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let org = organization_id.get_untracked();
                let is_owner = matches!(user.await, Ok(Some(u)) if u.role_in(&org) == Ok(Role::Owner));
                let can_cancel = is_owner && page.status != "canceled";
                let can_apply_code = can_cancel;
                let period = page.period.clone();
                if !page.subscribed {
                    return view! {
                        <section class="card" id="choose-plan">
                            {match page.ended.clone() {
                                Some(at) => view! {
                                    <h2>"Subscribe again"</h2>
                                    <p id="ended-note">{format!(
                                        "Your subscription ended on {at}. Its invoices stay under Invoices. A new subscription \
                                         starts a new period today; usage from before it is not accepted."
                                    )}</p>
                                }.into_any(),
                                None => view! {
                                    <h2>"Choose a plan to start"</h2>
                                    <p>"Usage is metered from the moment you start. You can change plans at any time."</p>
                                }.into_any(),
                            }}
                        </section>
                        <div class="plans">
                            {page.plans.into_iter().map(|plan| view! { <StartCard plan is_owner start organization_id/> }).collect_view()}
                        </div>
                        <p class="form-error" role="alert" id="start-error">{move || form_message(start.value().get())}</p>
                        {(!is_owner).then(|| view! { <p id="member-note">"Only owners can choose the plan."</p> })}
                    }.into_any();
                }
                view! {
                    <section class="card">
                        <p>"Current plan: " <strong id="current-plan">{page.current_plan}</strong>
                            " (" <StatusBadge state=page.status.clone() id="subscription-status"/> ")"</p>
                        <p>"This period: " {page.period}</p>
                        {page.scheduled_change.map(|change| view! {
                            <p id="scheduled-change">"Scheduled: " {change}</p>
                        })}
                        {match (page.cancels_at, can_cancel) {
                            (Some(at), true) => Some(view! {
                                <p id="cancels-at">"Cancels at the end of this period: " {at}</p>
                                <ActionForm action=keep>
                                    <input type="hidden" name="organization_id" value=organization_id/>
                                    <button type="submit" id="keep-subscription">"Keep my subscription"</button>
                                </ActionForm>
                            }.into_any()),
                            (Some(at), false) => Some(view! { <p id="cancels-at">"Cancels at the end of this period: " {at}</p> }.into_any()),
                            (None, true) => Some(view! { <CancelForm cancel organization_id period/> }.into_any()),
                            (None, false) => None,
                        }}
                        <p class="form-error" role="alert" id="cancel-error">
                            {move || form_message(cancel.value().get()).or_else(|| form_message(keep.value().get()))}
                        </p>
                    </section>
                    <PromotionCode discount=page.discount can_apply=can_apply_code redeem organization_id/>
                    <div class="plans">
                        {page.plans.into_iter().map(|plan| view! { <PlanCard plan is_owner preview organization_id/> }).collect_view()}
                    </div>
                    {(!is_owner).then(|| view! { <p id="member-note">"Only owners can change the plan."</p> })}
                }.into_any()
            })}
        </Suspense>
        <p class="form-error" role="alert" id="preview-error">{move || form_message(preview.value().get())}</p>
        {move || preview.value().get().and_then(Result::ok).map(|p| view! { <Preview preview=p confirm organization_id/> })}
    }
}

/// The discount running, or for owners a code to preview against this period and apply.
#[component]
fn PromotionCode(
    discount: Option<ActiveDiscount>,
    can_apply: bool,
    redeem: ServerAction<RedeemPromotionCode>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let preview = ServerAction::<PreviewPromotionCode>::new();
    let code_error = move || preview.value().get().and_then(Result::err).map(|error| error.message());
    match (discount, can_apply) {
        (Some(discount), _) => Some(view! {
            <section class="card" id="active-discount" aria-labelledby="discount-heading">
                <h2 id="discount-heading">"Discount"</h2>
                <p><code id="discount-code">{discount.code}</code> ": " <span id="discount-terms">{discount.terms}</span>
                    " (" <span id="discount-remaining">{discount.remaining}</span> ")"</p>
                <p class="hint">"It comes off each invoice when the invoice is finalized."</p>
            </section>
        }.into_any()),
        (None, true) => Some(view! {
            <section class="card" id="promotion-code" aria-labelledby="promotion-heading">
                <h2 id="promotion-heading">"Promotion code"</h2>
                <ActionForm action=preview attr:class="form inline" attr:id="promotion-form">
                    <input type="hidden" name="organization_id" value=organization_id/>
                    <label for="promotion-code-input">"Code"</label>
                    <input id="promotion-code-input" name="code" required maxlength="32" autocomplete="off"
                        aria-describedby="promotion-code-error"/>
                    <button type="submit" id="preview-promotion">"Preview"</button>
                </ActionForm>
                <p class="field-error" role="alert" id="promotion-code-error">{code_error}</p>
                {move || preview.value().get().and_then(Result::ok).map(|p| view! { <PromotionEffect preview=p redeem organization_id/> })}
            </section>
        }.into_any()),
        (None, false) => None,
    }
}

/// What the code takes off this period's invoice as it stands, and the button that applies it.
#[component]
fn PromotionEffect(
    preview: PromotionPreview,
    redeem: ServerAction<RedeemPromotionCode>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let code = preview.code.clone();
    let plans = (!preview.plans.is_empty()).then(|| format!("For the {} plans only.", preview.plans.join(", ")));
    view! {
        <div id="promotion-preview" role="status">
            <p><strong>{preview.code}</strong> ": " {preview.terms}</p>
            <table class="figures">
                <tbody>
                    <tr><th scope="row">"This period so far"</th><td class="amount" id="promotion-so-far">{preview.period_so_far}</td></tr>
                    <tr><th scope="row">"Discount"</th><td class="amount" id="promotion-discount">{preview.discount}</td></tr>
                    <tr><th scope="row">"After the discount"</th><td class="amount" id="promotion-after">{preview.after_discount}</td></tr>
                </tbody>
            </table>
            {plans.map(|text| view! { <p class="hint">{text}</p> })}
            <p class="hint">"The discount is taken off the invoice when it is finalized, from the usage billed then."</p>
            <ActionForm action=redeem>
                <input type="hidden" name="organization_id" value=organization_id/>
                <input type="hidden" name="code" value=code/>
                <button type="submit" id="apply-promotion">"Apply code"</button>
            </ActionForm>
            <p class="form-error" role="alert" id="apply-promotion-error">
                {move || redeem.value().get().and_then(Result::err).map(|error| error.message())}
            </p>
        </div>
    }
}

/// Canceling says what is still billed and asks, without insisting, why.
#[component]
fn CancelForm(
    cancel: ServerAction<CancelSubscription>,
    organization_id: Signal<String>,
    period: String,
) -> impl IntoView {
    view! {
        <details class="cancel">
            <summary>"Cancel the subscription"</summary>
            <ActionForm action=cancel attr:class="form" attr:id="cancel-form">
                <input type="hidden" name="organization_id" value=organization_id/>
                <p id="cancel-effect">{format!(
                    "Your plan runs to the end of this period ({period}). That period is invoiced as usual, its plan fee \
                     and its usage; nothing is billed after it, and usage sent after it is refused. You can keep the \
                     subscription until the period ends."
                )}</p>
                <label for="cancel-reason">"Why are you leaving? (optional)"</label>
                <textarea id="cancel-reason" name="reason" maxlength="500" rows="3"></textarea>
                <button type="submit" class="danger" id="cancel-subscription">"Cancel at period end"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn PlanCard(
    plan: PlanOption,
    is_owner: bool,
    preview: ServerAction<PreviewPlanChange>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let current = plan.current;
    let name = plan.name.clone();
    let data_plan = plan.name.clone();
    view! {
        <section class="card plan" class:current=current data-plan=data_plan>
            <h2>{plan.name}</h2>
            <p class="fee">{plan.base_fee}</p>
            <ul>{plan.terms.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul>
            {match (current, is_owner) {
                (true, _) => Some(view! { <p class="badge">"Your plan"</p> }.into_any()),
                (false, true) => Some(view! {
                    <ActionForm action=preview>
                        <input type="hidden" name="organization_id" value=organization_id/>
                        <input type="hidden" name="plan" value=name/>
                        <button type="submit" class="preview-change">"Preview change"</button>
                    </ActionForm>
                }.into_any()),
                (false, false) => None,
            }}
        </section>
    }
}

/// A plan on offer to an organization without one: its terms, its trial, and a button to start.
#[component]
fn StartCard(
    plan: PlanOption,
    is_owner: bool,
    start: ServerAction<StartPlan>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let name = plan.name.clone();
    let data_plan = plan.name.clone();
    let label = plan.trial.as_ref().map_or_else(|| "Subscribe".to_owned(), |trial| format!("Start {trial}"));
    view! {
        <section class="card plan" data-plan=data_plan>
            <h2>{plan.name}</h2>
            <p class="fee">{plan.base_fee}</p>
            {plan.trial.map(|trial| view! { <p class="badge">{trial}</p> })}
            <ul>{plan.terms.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul>
            {is_owner.then(|| view! {
                <ActionForm action=start>
                    <input type="hidden" name="organization_id" value=organization_id/>
                    <input type="hidden" name="plan" value=name/>
                    <button type="submit" class="start-plan">{label}</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn Preview(
    preview: PlanChangePreview,
    confirm: ServerAction<ConfirmPlanChange>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let (to_plan, token) = (preview.to_plan.clone(), preview.token.clone());
    let confirmed = move || confirm.value().get().is_some_and(|r| r.is_ok());
    view! {
        <ActionResult id="plan-preview" class="card" labelled_by="preview-heading">
            <ProrationTable preview/>
            <ActionForm action=confirm>
                <input type="hidden" name="organization_id" value=organization_id/>
                <input type="hidden" name="plan" value=to_plan/>
                <input type="hidden" name="token" value=token/>
                <button type="submit" id="confirm-change">"Confirm change"</button>
            </ActionForm>
            <p class="form-error" role="alert">{move || confirm.value().get().and_then(|r| r.err()).map(|e| e.message())}</p>
            <Show when=confirmed><ActionResult id="change-confirmed-result"><p role="status" id="change-confirmed">"Plan change confirmed."</p></ActionResult></Show>
        </ActionResult>
    }
}
