DELETE FROM consent_history WHERE state IN ('blocked', 'unblocked');
ALTER TABLE consent_history DROP CONSTRAINT consent_history_state_check;
ALTER TABLE consent_history ADD CONSTRAINT consent_history_state_check
    CHECK (state IN ('subscribed', 'opted_out'));
ALTER TABLE consent_history DROP COLUMN changed_by;
DROP TABLE blocklist;
DROP TABLE segments;
DROP TABLE whatsapp_group_members;
DROP FUNCTION whatsapp_group_members_count();
DROP TABLE whatsapp_groups;
DROP TABLE whatsapp_contacts;
