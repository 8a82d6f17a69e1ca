DROP TABLE settings;
DROP TABLE message_status_events;
DROP TABLE message_media;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE webhook_events;
DROP TABLE numbers;
DROP TABLE connections;
