DROP TRIGGER templates_flag_notification_mappings ON templates;
DROP FUNCTION notification_mappings_flag();
DROP TABLE notifications;
DROP TABLE notification_mappings;
DROP TABLE crm_events;
