"""Message, survey-comment and agent texts.

Only customers planted with cancellation intent ever write one of the intent phrases
("cancel", "close my account", "résilier", "unsubscribe", "terminate my contract"); every other
text here is free of them, so the text signal is exact in the ground truth.
"""

from __future__ import annotations

import random

INTENT_WORDS = ("cancel", "close my account", "résilier", "unsubscribe", "terminate my contract")

INTENT_TEXTS = (
    "I want to cancel my subscription, please tell me how.",
    "Please close my account, I am done with this.",
    "Bonjour, je souhaite résilier mon contrat.",
    "How do I unsubscribe from all of your services?",
    "I am going to terminate my contract at the end of the month.",
    "Third time I write: I want to cancel everything and leave.",
)

OPENING_TEXTS = {
    "billing": (
        "Hello, my last invoice is higher than usual, can you check it?",
        "I think I was charged twice this month.",
    ),
    "technical_issue": (
        "My connection keeps dropping since yesterday evening.",
        "The app shows an error every time I log in.",
    ),
    "order_status": (
        "Where is my order? It was due on Monday.",
        "Can you tell me when my parcel will arrive?",
    ),
    "account_change": (
        "I moved and need to update my address.",
        "I would like to change the holder of the contract to my partner.",
    ),
    "payment": (
        "My card payment was refused, what should I do?",
        "Can I pay my bill in three instalments?",
    ),
    "complaint": (
        "I am really unhappy with the service I received last week.",
        "This is the second time I write about the same problem.",
    ),
    "claim": (
        "I want to file a claim for a damaged device.",
        "The parcel arrived broken, I need compensation.",
    ),
    "technician_visit": (
        "I need a technician to come and check the installation.",
        "When can someone come to repair the box at home?",
    ),
    "information": ("What are your opening hours on Saturday?", "Do you deliver to Belgium?"),
    "service_outage": (
        "Nothing works since this morning, is there an outage?",
        "Is the service down? I cannot use anything.",
    ),
}
GENERIC_OPENING = ("Hello, I have a question about my contract.", "Hi, I need some help please.")
FOLLOW_UP_TEXTS = (
    "Thanks, let me check.",
    "Ok, and how long will it take?",
    "I still have the problem.",
    "Could you send me a confirmation by e-mail?",
    "Great, thank you.",
    "Merci beaucoup !",
    "Here is my reference number: 4471-22.",
    "Yes, that is the right address.",
)
AGENT_GREETINGS = (
    "Hello, thank you for contacting us. How can I help?",
    "Good morning, I am looking at your file right now.",
)
AGENT_TEXTS = (
    "Let me check that for you.",
    "I have updated your file.",
    "Could you confirm your postcode please?",
    "Is there anything else I can do for you?",
    "You will receive a confirmation shortly.",
)
EMAIL_ACKNOWLEDGEMENT = "Thank you for your message, we are looking into it."
EMAIL_ANSWERS = (
    "Following your request, we have corrected your file. Best regards.",
    "Please find the requested information below. Best regards.",
    "We have forwarded your request to the team in charge. Best regards.",
)
BOT_GREETING = "Hi! An advisor will be with you in a moment."
SURVEY_COMMENTS = {
    "good": ("Quick and helpful.", "The advisor was friendly.", "Problem solved, thanks."),
    "bad": ("Too long on hold.", "Still waiting for a solution.", "I had to explain it twice."),
}


def opening_text(rng: random.Random, reason: str | None, intent: bool) -> str:
    if intent:
        return rng.choice(INTENT_TEXTS)
    return rng.choice(OPENING_TEXTS.get(reason or "", GENERIC_OPENING))
