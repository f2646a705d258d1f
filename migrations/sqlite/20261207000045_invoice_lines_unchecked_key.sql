-- PostgreSQL drops the foreign key of invoice lines to their invoice (its check was a row lock per
-- line). SQLite keeps it: here its check is an index lookup, and the tests on SQLite keep proving
-- that every line is written beside its invoice.
select 1;
