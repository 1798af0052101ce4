"""Base classes of the ICA models: strict for what we send, lenient for what we read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class IcaRequestModel(BaseModel):
    """A body we send to ICA.

    Python attributes are snake_case; the camelCase ICA names are aliases, and
    both are accepted on input. Unknown fields are errors: a typo such as
    ``userRefrence`` must be reported here, not silently dropped on the way out.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        # DAG files import these modules; build validators on first use, not on import.
        defer_build=True,
    )

    def to_ica(self) -> dict[str, Any]:
        """The JSON body ICA expects: camelCase names, unset (``None``) fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class IcaResponseModel(BaseModel):
    """A body ICA sends back.

    Lenient on purpose: ICA adds fields and status values over time, and a new
    one must not break a running DAG. Unknown fields are kept (``model_extra``).
    """

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )
