DROP TABLE event_relay;
