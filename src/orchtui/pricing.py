"""What tokens cost: a pricing table as data (pricing.toml beside this module), which
the user's config extends or overrides under `[pricing."<model or glob>"]`."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchtui.errors import ConfigError

BUILTIN = Path(__file__).with_name("pricing.toml")
PER = 1_000_000


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        return (
            input_tokens * self.input + output_tokens * self.output + cache_read * read + cache_write * write
        ) / PER


class PriceTable:
    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, overrides: dict[str, Price] | None = None) -> PriceTable:
        try:
            raw = tomllib.loads(BUILTIN.read_text(encoding="utf-8"))
            prices = {key: Price.model_validate(value) for key, value in raw.items()}
        except (tomllib.TOMLDecodeError, ValidationError) as exc:  # a packaging mistake, not user input
            raise ConfigError(f"{BUILTIN}: {exc}") from None
        prices.update(overrides or {})
        return cls(prices)

    def price(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        matches = [key for key in self.prices if fnmatch.fnmatchcase(model, key)]
        return self.prices[max(matches, key=len)] if matches else None

    def cost(
        self, model: str, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
    ) -> float:
        """Dollars, or 0.0 for a model the table does not know (the report says which)."""
        price = self.price(model)
        return price.cost(input_tokens, output_tokens, cache_read, cache_write) if price else 0.0
