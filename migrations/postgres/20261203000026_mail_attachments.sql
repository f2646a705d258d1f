-- A notice may carry a document rendered when it is sent: `invoice:<organization>:<invoice>`
-- or `receipt:<organization>:<payment>`.
alter table notifications add column attachment text;
