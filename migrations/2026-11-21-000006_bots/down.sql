DROP TABLE conversation_bots;
DROP TABLE bots;
