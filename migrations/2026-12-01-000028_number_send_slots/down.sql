DROP TABLE number_send_slots;
