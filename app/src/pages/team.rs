//! The team page: members and invitations waiting; owners invite, withdraw and remove.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::{TeamInvitation, TeamMember};
use crate::api::team::{InviteMember, RemoveMember, ResendInvitation, WithdrawInvitation, get_team};
use crate::components::action_result::ActionResult;
use crate::components::confirm::ActionDialog;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::toast::toast_on_success;
use crate::components::when::When;

#[component]
pub fn TeamPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let invite = ServerAction::<InviteMember>::new();
    let withdraw = ServerAction::<WithdrawInvitation>::new();
    toast_on_success(withdraw, "Invitation withdrawn.");
    let resend = ServerAction::<ResendInvitation>::new();
    let remove = ServerAction::<RemoveMember>::new();
    toast_on_success(remove, "Removed from the team.");
    let team = Resource::new(
        move || {
            let versions =
                (invite.version().get(), withdraw.version().get(), resend.version().get(), remove.version().get());
            (organization_id.get(), versions)
        },
        |(org, _)| get_team(org),
    );
    view! {
        <Title text="Team · Billing portal"/>
        <h1>"Team"</h1>
        <Suspense fallback=|| view! { <Loading what="the team"/> }>
            {move || Suspend::new(async move {
                let team = match team.await {
                    Ok(team) => team,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let can_manage = team.can_manage;
                view! {
                    <section aria-labelledby="members-heading">
                        <h2 id="members-heading">"Members"</h2>
                        <MemberTable members=team.members can_manage remove organization_id/>
                        <p class="form-error" role="alert" id="remove-error">{move || form_message(remove.value().get())}</p>
                    </section>
                    <section aria-labelledby="invitations-heading">
                        <h2 id="invitations-heading">"Invitations"</h2>
                        <InvitationTable invitations=team.invitations can_manage withdraw resend organization_id/>
                        <p class="form-error" role="alert" id="resend-error">
                            {move || resend.value().get().and_then(Result::err).map(|error| error.message())}
                        </p>
                        {move || matches!(resend.value().get(), Some(Ok(_))).then(|| view! {
                            <ActionResult id="invitation-resent-result"><p role="status" id="invitation-resent">"Invitation sent again with a new link."</p></ActionResult>
                        })}
                        {if can_manage {
                            view! { <InviteForm invite organization_id/> }.into_any()
                        } else {
                            view! { <p id="member-note">"Only owners can invite or remove people."</p> }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

#[component]
fn MemberTable(
    members: Vec<TeamMember>,
    can_manage: bool,
    remove: ServerAction<RemoveMember>,
    organization_id: Signal<String>,
) -> impl IntoView {
    view! {
        <table id="members" class="stack">
            <thead><tr><th>"Email"</th><th>"Role"</th><th>"Since"</th><th>"Actions"</th></tr></thead>
            <tbody>
                {members.into_iter().map(|member| {
                    let label = format!("Remove {}", member.email);
                    view! {
                    <tr data-member=member.email.clone()>
                        <td data-label="Email">{member.email.clone()}</td><td data-label="Role">{member.role}</td>
                        <td data-label="Since"><When at=member.since/></td>
                        <td data-label="Actions">
                            {(can_manage && member.removable).then(|| view! {
                                <ActionForm action=remove attr:class="action">
                                    <input type="hidden" name="organization_id" value=organization_id/>
                                    <input type="hidden" name="user_id" value=member.user_id.clone()/>
                                    <ActionDialog id=format!("remove-{}", member.user_id) open=format!("{label}…")
                                        title=format!("{label} from the team?") confirm="Remove from the team" danger=true
                                        effect="They lose access to this organization at once and are logged out of it. Inviting them again gives it back."/>
                                </ActionForm>
                            })}
                        </td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn InvitationTable(
    invitations: Vec<TeamInvitation>,
    can_manage: bool,
    withdraw: ServerAction<WithdrawInvitation>,
    resend: ServerAction<ResendInvitation>,
    organization_id: Signal<String>,
) -> impl IntoView {
    if invitations.is_empty() {
        return view! { <p id="no-invitations">"No invitations waiting."</p> }.into_any();
    }
    view! {
        <table id="invitations" class="stack">
            <thead><tr><th>"Email"</th><th>"Role"</th><th>"Invited by"</th><th>"Link expires"</th><th>"Actions"</th></tr></thead>
            <tbody>
                {invitations.into_iter().map(|invitation| {
                    let label = format!("Withdraw {}", invitation.email);
                    let resend_label = format!("Resend to {}", invitation.email);
                    let resend_id = invitation.id.clone();
                    view! {
                    <tr data-invitation=invitation.email.clone()>
                        <td data-label="Email">{invitation.email.clone()}</td><td data-label="Role">{invitation.role}</td>
                        <td data-label="Invited by">{invitation.invited_by}</td><td data-label="Link expires"><When at=invitation.expires/></td>
                        <td data-label="Actions">
                            {can_manage.then(|| view! {
                                <div class="row-actions">
                                    <ActionForm action=resend>
                                        <input type="hidden" name="organization_id" value=organization_id/>
                                        <input type="hidden" name="invitation_id" value=resend_id/>
                                        <button type="submit" aria-label=resend_label>"Resend"</button>
                                    </ActionForm>
                                    <ActionForm action=withdraw attr:class="action">
                                        <input type="hidden" name="organization_id" value=organization_id/>
                                        <input type="hidden" name="invitation_id" value=invitation.id.clone()/>
                                        <ActionDialog id=format!("withdraw-{}", invitation.id) open=format!("{label}…")
                                            title=format!("{label}?") confirm="Withdraw invitation" danger=true
                                            effect="The mailed link stops working. You can invite the same address again later."/>
                                    </ActionForm>
                                </div>
                            })}
                        </td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn InviteForm(invite: ServerAction<InviteMember>, organization_id: Signal<String>) -> impl IntoView {
    let error_of = move |field: &'static str| Signal::derive(move || field_message(invite.value().get(), field));
    let sent = move || matches!(invite.value().get(), Some(Ok(_)));
    view! {
        <ActionForm action=invite attr:class="card form" attr:id="invite-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <p class="form-error" role="alert">{move || form_message(invite.value().get())}</p>
            <label for="invite-email">"Email"</label>
            <input id="invite-email" name="email" type="email" required maxlength="254" aria-describedby="invite-email-error"/>
            <FieldError id="invite-email-error" message=error_of("email")/>
            <label for="invite-role">"Role"</label>
            <select id="invite-role" name="role" aria-describedby="invite-role-error">
                <option value="member" selected>"Member: reads usage, invoices and payments"</option>
                <option value="billing">"Billing: also keeps the card, pays and edits billing details"</option>
                <option value="owner">"Owner: also changes the plan, payment, keys and the team"</option>
            </select>
            <FieldError id="invite-role-error" message=error_of("role")/>
            <button type="submit" id="invite-submit">"Send invitation"</button>
            {move || sent().then(|| view! { <ActionResult id="invite-sent-result"><p role="status" id="invite-sent">"Invitation sent. The link works for 7 days."</p></ActionResult> })}
        </ActionForm>
    }
}
