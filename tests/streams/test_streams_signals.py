import pytest

from streams.signals import fold_text, has_cancellation_intent


@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel my subscription",
        "CANCEL NOW",
        "I cancelled the order but still got charged",
        "Please proceed with the cancellation.",
        "Please close my account",
        "close  my\naccount today",
        "Je veux résilier mon abonnement",
        "je veux resilier",
        "RÉSILIER",
        "Résiliation immédiate svp",
        "unsubscribe me from everything",
        "I'd like to terminate my contract",
    ],
)
def test_cancellation_phrases_are_detected(text):
    assert has_cancellation_intent(text) is True


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "My internet is slow since Monday",
        "Your network is very resilient",
        "Please close the ticket, my accountant solved it",
        "I want to subscribe to the premium plan",
        "Can you terminate the call transfer?",
        "The precancelled voucher",
    ],
)
def test_other_text_is_not_cancellation_intent(text):
    assert has_cancellation_intent(text) is False


def test_fold_text_strips_accents_and_case():
    assert fold_text("Résilier ÉTÉ") == "resilier ete"
    assert fold_text("Plain ASCII") == "plain ascii"
