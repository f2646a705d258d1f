-- Balances, ledger pages and the staff search read one organization's transactions; without
-- this they read every organization's.
create index ledger_transactions_organization on ledger_transactions(organization_id);
