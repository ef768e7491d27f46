"""Line and deal totals worked out by hand, in minor units (rounding half up once per figure)."""

from decimal import Decimal

from dealflow.products.calculations import DealTotals, LinePrice, convert_minor, deal_totals, line_totals


def test_one_off_line_with_discount_and_tax():
    # 3 x EUR 19.99 = 5997 cents; less 10 % = 5397.3 -> 5397; 21 % tax = 1133.37 -> 1133.
    totals = line_totals(
        LinePrice(Decimal("3"), 1999, "EUR", discount_percent=Decimal("10"), tax_rate=Decimal("21"))
    )
    assert (totals.net_minor, totals.tax_minor, totals.gross_minor) == (5397, 1133, 6530)
    assert (totals.one_off_minor, totals.mrr_minor, totals.arr_minor, totals.tcv_minor) == (5397, 0, 0, 5397)
    assert totals.value_minor("tcv") == totals.value_minor("arr") == 5397


def test_half_a_cent_rounds_up_once_per_figure():
    # 1 x EUR 0.05 less 50 % = 2.5 cents -> 3; 21 % of 3 cents = 0.63 -> 1.
    totals = line_totals(
        LinePrice(Decimal("1"), 5, "EUR", discount_percent=Decimal("50"), tax_rate=Decimal("21"))
    )
    assert (totals.net_minor, totals.tax_minor) == (3, 1)
    # 0.125 x EUR 0.10 = 1.25 cents -> 1 (below the half).
    assert line_totals(LinePrice(Decimal("0.125"), 10, "EUR")).net_minor == 1


def test_monthly_line_mrr_arr_tcv():
    # 2 seats x EUR 49.00 a month for 24 months: MRR 98.00, ARR 1,176.00, TCV 2,352.00.
    totals = line_totals(LinePrice(Decimal("2"), 4900, "EUR", billing="monthly", term_months=24))
    assert (totals.net_minor, totals.mrr_minor, totals.arr_minor, totals.tcv_minor) == (
        9800,
        9800,
        117600,
        235200,
    )
    assert totals.one_off_minor == 0
    assert totals.value_minor("tcv") == 235200
    assert totals.value_minor("arr") == 117600


def test_yearly_line_with_discount():
    # EUR 1,000.00 a year less 15 % = 850.00; MRR 850/12 = 70.8333 -> 70.83; 36 months: TCV 2,550.00.
    totals = line_totals(
        LinePrice(
            Decimal("1"), 100000, "EUR", discount_percent=Decimal("15"), billing="yearly", term_months=36
        )
    )
    assert (totals.net_minor, totals.mrr_minor, totals.arr_minor, totals.tcv_minor) == (
        85000,
        7083,
        85000,
        255000,
    )


def test_currency_without_cents():
    # 1.5 x JPY 1,001 = 1,501.5 yen -> 1,502 (the yen has no minor unit).
    assert line_totals(LinePrice(Decimal("1.5"), 1001, "JPY")).net_minor == 1502


def test_conversion_per_line_to_the_deal_currency():
    # USD 100.00 at 0.92 EUR per USD = EUR 92.00; JPY 1,502 at 0.0061 = EUR 9.1622 -> 9.16.
    assert convert_minor(10000, rate=Decimal("0.92"), from_currency="USD", to_currency="EUR") == 9200
    assert convert_minor(1502, rate=Decimal("0.0061"), from_currency="JPY", to_currency="EUR") == 916
    assert convert_minor(1234, rate=Decimal("5"), from_currency="EUR", to_currency="EUR") == 1234


def test_deal_totals_sum_converted_line_figures():
    eur = line_totals(
        LinePrice(Decimal("3"), 1999, "EUR", discount_percent=Decimal("10"), tax_rate=Decimal("21"))
    )
    usd = line_totals(LinePrice(Decimal("2"), 5000, "USD", billing="monthly", term_months=12))
    totals = deal_totals([(eur, "EUR", Decimal(1)), (usd, "USD", Decimal("0.92"))], currency="EUR")
    # USD: net 100.00 a month -> EUR 92.00; ARR USD 1,200 -> EUR 1,104.00; TCV the same over 12 months.
    assert totals == DealTotals(
        currency="EUR",
        net_minor=5397 + 9200,
        tax_minor=1133,
        one_off_minor=5397,
        mrr_minor=9200,
        arr_minor=110400,
        tcv_minor=5397 + 110400,
        value_minor=5397 + 110400,
    )
    assert totals.is_recurring
