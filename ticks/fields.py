"""Model fields with a little behaviour of their own."""

import secrets

from django.db import models

# Seeds fit a signed 64-bit column and the engine's Philox key.
SEED_MAX = 2**63 - 1


def new_seed() -> int:
    return secrets.randbelow(SEED_MAX)


class SymbolField(models.CharField):
    """A ticker symbol, stored upper-case whatever the input's case."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().upper() if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = self.to_python(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value


class SeedField(models.BigIntegerField):
    """A random-number seed that is drawn at random when left blank, so every path is reproducible."""

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value is None:
            value = new_seed()
            setattr(model_instance, self.attname, value)
        return value
