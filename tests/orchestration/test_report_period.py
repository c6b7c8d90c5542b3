"""Report periods: which days a day, week, month or range holds, and the one before it."""

from datetime import date

import pytest

from orchestration.reports.model import Period


def test_a_week_runs_monday_to_sunday_whatever_day_it_is_asked_for():
    for day in range(23, 30):  # Mon 23 .. Sun 29 Nov 2026
        week = Period.ending("week", date(2026, 11, day))
        assert (week.first_day, week.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    assert Period.ending("week", date(2026, 11, 30)).first_day == date(2026, 11, 30)


def test_months_have_their_own_lengths_leap_february_included():
    assert Period.ending("month", date(2026, 11, 17)).days == 30
    assert Period.ending("month", date(2026, 12, 31)).days == 31
    assert Period.ending("month", date(2026, 2, 1)).last_day == date(2026, 2, 28)
    assert Period.ending("month", date(2028, 2, 10)).last_day == date(2028, 2, 29)


def test_the_previous_month_of_march_31_is_all_of_february():
    march = Period.ending("month", date(2026, 3, 31))
    assert march.previous() == Period("month", date(2026, 2, 1), date(2026, 2, 28))
    assert Period.ending("month", date(2027, 1, 5)).previous() == Period(
        "month", date(2026, 12, 1), date(2026, 12, 31)
    )


def test_the_previous_day_week_and_range_have_the_same_length_just_before():
    assert Period.ending("day", date(2026, 3, 1)).previous() == Period(
        "day", date(2026, 2, 28), date(2026, 2, 28)
    )
    week = Period.ending("week", date(2027, 1, 1))  # Mon 28 Dec 2026 .. Sun 3 Jan 2027
    assert week.previous() == Period("week", date(2026, 12, 21), date(2026, 12, 27))
    ten_days = Period.between(date(2026, 11, 21), date(2026, 11, 30))
    assert ten_days.days == 10
    assert ten_days.previous() == Period("range", date(2026, 11, 11), date(2026, 11, 20))


def test_labels_read_as_people_write_them():
    assert Period.ending("day", date(2026, 11, 30)).label == "Mon 30 Nov 2026"
    assert Period.ending("week", date(2026, 11, 25)).label == "Week 48, 23–29 Nov 2026"
    assert Period.ending("week", date(2026, 12, 1)).label == "Week 49, 30 Nov – 6 Dec 2026"
    assert Period.ending("week", date(2027, 1, 1)).label == "Week 53, 28 Dec 2026 – 3 Jan 2027"
    assert Period.ending("month", date(2026, 11, 3)).label == "November 2026"
    assert Period.between(date(2026, 11, 2), date(2026, 11, 4)).label == "2–4 Nov 2026"


def test_dates_lists_every_day_of_the_period():
    assert Period.ending("week", date(2026, 11, 25)).dates()[::6] == (
        date(2026, 11, 23),
        date(2026, 11, 29),
    )


def test_invalid_periods_are_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        Period.between(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        Period("quarter", date(2026, 10, 1), date(2026, 12, 31))
    with pytest.raises(ValueError, match="no period of kind 'range'"):
        Period.ending("range", date(2026, 11, 1))
