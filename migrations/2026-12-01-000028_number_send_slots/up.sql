-- Each business number's next free send slot, shared by every worker node: a
-- node reserves a few slots at a time here, so a number's messages_per_second
-- holds however many nodes send for it (the pacer in process alone let two
-- nodes send at twice the rate).
CREATE TABLE number_send_slots (
    number_id uuid PRIMARY KEY REFERENCES numbers (id) ON DELETE CASCADE,
    next_slot timestamptz NOT NULL
);
