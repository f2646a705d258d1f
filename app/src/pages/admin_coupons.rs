use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::{CreateCoupon, CreatePromotionCode, get_coupons};
use crate::api::dto::admin::{CouponView, CouponsPage};
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::AdminHeader;
use crate::components::loading::Loading;
use crate::components::toast::toast_on_success;
use crate::components::when::MaybeWhen;

/// Staff only: coupons (what comes off, for how long, for whom) and the codes customers type.
#[component]
pub fn CouponsAdminPage() -> impl IntoView {
    let create = ServerAction::<CreateCoupon>::new();
    toast_on_success(create, "Coupon created.");
    let add_code = ServerAction::<CreatePromotionCode>::new();
    toast_on_success(add_code, "Promotion code added.");
    let page = Resource::new(move || (create.version().get(), add_code.version().get()), |_| get_coupons());
    view! {
        <Title text="Coupons · Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <h1>"Coupons"</h1>
            <Suspense fallback=|| view! { <Loading what="the coupons"/> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <CouponsView page create add_code/> }.into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn CouponsView(
    page: CouponsPage,
    create: ServerAction<CreateCoupon>,
    add_code: ServerAction<CreatePromotionCode>,
) -> impl IntoView {
    let coupons = page.coupons;
    let empty = coupons.is_empty();
    view! {
        <NewCouponForm create plans=page.plans currencies=page.currencies/>
        <h2>"Coupons and their codes"</h2>
        {empty.then(|| view! { <p id="no-coupons">"No coupons yet. A coupon needs a promotion code before customers can use it."</p> })}
        <div class="coupons">
            {coupons.into_iter().map(|coupon| view! { <CouponCard coupon add_code/> }).collect_view()}
        </div>
        <p class="form-error" role="alert" id="code-error">
            {move || add_code.value().get().and_then(Result::err).map(|error| error.message())}
        </p>
    }
}

#[component]
fn NewCouponForm(create: ServerAction<CreateCoupon>, plans: Vec<String>, currencies: Vec<String>) -> impl IntoView {
    let error = move |field: &'static str| Signal::derive(move || field_message(create.value().get(), field));
    let plan_hint = format!("Plans: {}. Empty for every plan.", plans.join(", "));
    view! {
        <ActionForm action=create attr:class="card form" attr:id="coupon-form">
            <h2>"New coupon"</h2>
            <label for="coupon-name">"Name (staff only)"</label>
            <input id="coupon-name" name="form[name]" required maxlength="80" placeholder="Spring launch"/>
            <FieldError id="coupon-name-error" message=error("name")/>
            <fieldset>
                <legend>"Takes off"</legend>
                <label for="coupon-kind">"Kind"</label>
                <select id="coupon-kind" name="form[kind]">
                    <option value="percent">"A percentage"</option>
                    <option value="amount">"A fixed amount"</option>
                </select>
                <FieldError id="coupon-kind-error" message=error("kind")/>
                <label for="coupon-value">"Percentage (20) or amount (25.00)"</label>
                <input id="coupon-value" name="form[value]" required inputmode="decimal"/>
                <FieldError id="coupon-value-error" message=error("value")/>
                <label for="coupon-currency">"Currency of an amount"</label>
                <select id="coupon-currency" name="form[currency]">
                    {currencies.into_iter().map(|c| { let value = c.clone(); view! { <option value=value>{c}</option> } }).collect_view()}
                </select>
                <FieldError id="coupon-currency-error" message=error("currency")/>
            </fieldset>
            <fieldset>
                <legend>"For how long"</legend>
                <label for="coupon-duration">"Duration"</label>
                <select id="coupon-duration" name="form[duration]">
                    <option value="once">"The next invoice"</option>
                    <option value="repeating">"A number of invoices"</option>
                    <option value="forever">"Every invoice"</option>
                </select>
                <FieldError id="coupon-duration-error" message=error("duration")/>
                <label for="coupon-invoices">"Number of invoices (repeating only)"</label>
                <input id="coupon-invoices" name="form[invoices]" inputmode="numeric"/>
                <FieldError id="coupon-invoices-error" message=error("invoices")/>
            </fieldset>
            <label for="coupon-redeem-by">"Redeem by (optional)"</label>
            <input id="coupon-redeem-by" name="form[redeem_by]" type="date"/>
            <FieldError id="coupon-redeem-by-error" message=error("redeem_by")/>
            <label for="coupon-max">"Redemptions at most (optional)"</label>
            <input id="coupon-max" name="form[max_redemptions]" inputmode="numeric"/>
            <FieldError id="coupon-max-error" message=error("max_redemptions")/>
            <label for="coupon-plans">"Limit to plans (optional, separated by commas)"</label>
            <input id="coupon-plans" name="form[plans]" aria-describedby="coupon-plans-hint"/>
            <p class="hint" id="coupon-plans-hint">{plan_hint}</p>
            <FieldError id="coupon-plans-error" message=error("plans")/>
            <button type="submit" id="create-coupon">"Create coupon"</button>
            <p class="form-error" role="alert">{move || form_message(create.value().get())}</p>
        </ActionForm>
    }
}

#[component]
fn CouponCard(coupon: CouponView, add_code: ServerAction<CreatePromotionCode>) -> impl IntoView {
    let coupon_id = coupon.id.clone();
    let plans = if coupon.plans.is_empty() { "Every plan".to_owned() } else { coupon.plans.join(", ") };
    let codes = coupon.codes;
    let data_coupon = coupon.name.clone();
    view! {
        <section class="card coupon" data-coupon=data_coupon>
            <h3>{coupon.name}</h3>
            <p class="coupon-terms">{coupon.terms}</p>
            <dl>
                <dt>"Redeemed"</dt><dd>{coupon.redeemed}</dd>
                <dt>"Plans"</dt><dd>{plans}</dd>
                <dt>"Redeem by"</dt><dd><MaybeWhen at=coupon.redeem_by otherwise="No end"/></dd>
            </dl>
            {if codes.is_empty() {
                view! { <p class="empty">"No promotion codes yet."</p> }.into_any()
            } else {
                view! {
                    <table class="codes stack">
                        <thead><tr><th scope="col">"Code"</th><th scope="col">"Redeemed"</th><th scope="col">"Redeem by"</th></tr></thead>
                        <tbody>
                            {codes.into_iter().map(|code| view! {
                                <tr><td data-label="Code"><code>{code.code}</code></td><td data-label="Redeemed">{code.redeemed}</td>
                                    <td data-label="Redeem by"><MaybeWhen at=code.redeem_by otherwise="No end"/></td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <ActionForm action=add_code attr:class="form inline">
                <input type="hidden" name="form[coupon_id]" value=coupon_id/>
                <label>"New code" <input name="form[code]" class="new-code" required maxlength="32" placeholder="SPRING25"/></label>
                <label>"At most (optional)" <input name="form[max_redemptions]" inputmode="numeric"/></label>
                <label>"Redeem by (optional)" <input name="form[redeem_by]" type="date"/></label>
                <button type="submit" class="add-code">"Add code"</button>
            </ActionForm>
        </section>
    }
}
