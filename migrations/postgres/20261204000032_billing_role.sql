-- The billing role: sees invoices and payments and keeps the card and billing details, but
-- changes nothing else.
alter table memberships drop constraint memberships_role_check;
alter table memberships add constraint memberships_role_check check (role in ('owner', 'member', 'billing'));
alter table invitations drop constraint invitations_role_check;
alter table invitations add constraint invitations_role_check check (role in ('owner', 'member', 'billing'));
