"""Tribune: a live Q&A relay for hosted executive chats."""
