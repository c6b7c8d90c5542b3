"""Identifier normalisation, junk detection and keyed hashing (events.md, Identity)."""

from __future__ import annotations

import pytest

from schemas.identifiers import hash_identifier, hashed_identifiers, normalise, normalise_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("  +44 (0)20 7946 0000 ", "+442079460000"),
        ("+1 (415) 555-0100", "+14155550100"),
    ],
)
def test_phones_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise("phone", raw) == e164


def test_a_national_number_takes_the_given_country_code() -> None:
    assert normalise_phone("0612345678", default_country_code="32") == "+32612345678"


@pytest.mark.parametrize("raw", ["12", "+1234567", "+1234567890123456", "call me", "+"])
def test_strings_that_cannot_be_phone_numbers_are_dropped(raw: str) -> None:
    assert normalise("phone", raw) is None


@pytest.mark.parametrize(
    ("raw", "email"),
    [(" Jane.Doe@Example.COM ", "jane.doe@example.com"), ("a@b.c", "a@b.c")],
)
def test_emails_are_lower_cased_and_trimmed(raw: str, email: str) -> None:
    assert normalise("email", raw) == email


def test_an_email_without_an_at_sign_is_dropped() -> None:
    assert normalise("email", "jane.doe.example.com") is None


def test_social_handles_lose_case_and_the_at_sign() -> None:
    assert normalise("social_handle", " @JaneDoe ") == "janedoe"
    assert normalise("social_handle", "@") is None


def test_other_identifiers_keep_their_case_and_lose_surrounding_blanks() -> None:
    assert normalise("account_id", " ACC-55012 ") == "ACC-55012"
    assert normalise("customer_id", 4217) == "4217"


JUNK = ["", "   ", "anonymous", "ANONYMOUS", "unknown", "Unknown", "null", "NULL", "-1", -1, None]
ALL_ZEROS = ["0", "000", "0000000000", "00 00 00 00 00", "+000000000"]


@pytest.mark.parametrize("kind", ["customer_id", "account_id", "phone", "email", "chat_visitor_id"])
@pytest.mark.parametrize("raw", JUNK)
def test_junk_values_are_never_identifiers(kind: str, raw: object) -> None:
    assert normalise(kind, raw) is None


@pytest.mark.parametrize("kind", ["customer_id", "account_id", "phone"])
@pytest.mark.parametrize("raw", ALL_ZEROS)
def test_all_zero_numbers_are_never_identifiers(kind: str, raw: str) -> None:
    assert normalise(kind, raw) is None


def test_a_hash_is_stable_for_one_key_and_differs_between_keys() -> None:
    first = hash_identifier("phone", "+33612345678", "key-a")
    assert first == hash_identifier("phone", "+33612345678", "key-a")
    assert first != hash_identifier("phone", "+33612345678", "key-b")
    assert first != hash_identifier("phone", "+33612345679", "key-a")
    assert first.startswith("phone:")
    assert len(first) == len("phone:") + 32
    assert "33612345678" not in first


def test_the_kind_is_part_of_the_hashed_value() -> None:
    as_customer = hash_identifier("customer_id", "12345678", "k").split(":")[1]
    as_account = hash_identifier("account_id", "12345678", "k").split(":")[1]
    assert as_customer != as_account


def test_a_customer_object_hashes_its_usable_identifiers_in_sorted_order() -> None:
    customer = {"phone": "06 12 34 56 78", "email": "unknown", "account_id": "ACC-1", "x": "1"}
    hashes = hashed_identifiers(customer, "k")
    assert hashes == sorted(
        [hash_identifier("phone", "+33612345678", "k"), hash_identifier("account_id", "ACC-1", "k")]
    )


def test_two_spellings_of_one_identifier_hash_alike() -> None:
    assert hashed_identifiers({"phone": "+33 6 12 34 56 78"}, "k") == hashed_identifiers(
        {"phone": "0612345678"}, "k"
    )
