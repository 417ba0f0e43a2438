-- Telegram CSAT comments: after a rating the chat's next plain message, until this time (Unix
-- ms), is taken as the rating's optional comment. NULL: no comment awaited (given, skipped,
-- expired or never asked).
ALTER TABLE telegram_survey_prompts ADD COLUMN comment_until BIGINT;
CREATE INDEX telegram_survey_prompts_chat ON telegram_survey_prompts (chat_id, comment_until);
