"""Kept for callers of this path: the exchange-rate reads live in deals/rates.py, the rule in core.money."""

from dealflow.deals.rates import base_currency, convert_minor_to_base, exchange_rate_on, rate_table

__all__ = ["base_currency", "convert_minor_to_base", "exchange_rate_on", "rate_table"]
