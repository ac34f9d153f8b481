"""Where sealed customer data becomes text again: in the activity, just before a message
or an alert is rendered, and nowhere else. Nothing unsealed is returned to the journey.

The vault is the worker client's (`customer_data.vault_of`): a worker that can decrypt
the journey's payloads can open its customer's data, with the same configuration."""

from __future__ import annotations

from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from customer_data import CustomerErased, DataKeyLocked, Vault, vault_of
from models.errors import RetryableSendErrorType, SendErrorType
from models.journey import AlertRequest, MessageRequest
from models.order import CONTACT_FIELDS, Order
from models.sealed import ERASED, Sealed

R = TypeVar("R", MessageRequest, AlertRequest)


class Unsealer:
    def __init__(self, vault: Vault | None = None) -> None:
        self._vault = vault  # by default, the running activity's worker client's

    async def message(self, request: MessageRequest) -> MessageRequest:
        """The request with the customer's data as text. An erased customer gets
        nothing: `CustomerErased`, not retried."""
        if not _sealed(request):
            return request
        vault = self._require()
        try:
            order = await vault.unseal_order(request.order)
        except CustomerErased as err:
            raise ApplicationError(
                str(err), type=SendErrorType.CUSTOMER_ERASED, non_retryable=True
            ) from err
        except DataKeyLocked as err:
            raise _locked(str(err)) from err
        return await self._with_facts(request.model_copy(update={"order": order}), vault)

    async def alert(self, request: AlertRequest) -> AlertRequest:
        """The alert with the customer's data as text; `[erased]` in its place for an
        erased customer, since the store still hears about the order."""
        reply_sealed = request.reply is not None and isinstance(request.reply.text, Sealed)
        if not _sealed(request) and not reply_sealed:
            return request
        vault = self._require()
        try:
            order = await vault.unseal_order(request.order)
        except CustomerErased:
            order = _erased(request.order)
        except DataKeyLocked as err:
            raise _locked(str(err)) from err
        request = request.model_copy(update={"order": order})
        if request.reply is not None and isinstance(request.reply.text, Sealed):
            text = await vault.unseal_text(request.reply.text)
            request = request.model_copy(
                update={"reply": request.reply.model_copy(update={"text": text})}
            )
        return await self._with_facts(request, vault)

    async def _with_facts(self, request: R, vault: Vault) -> R:
        feedback = request.facts.feedback
        if feedback is None or not isinstance(feedback.comment, Sealed):
            return request
        comment = await vault.unseal_text(feedback.comment)
        facts = request.facts.model_copy(
            update={"feedback": feedback.model_copy(update={"comment": comment})}
        )
        return request.model_copy(update={"facts": facts})

    def _require(self) -> Vault:
        vault = self._vault or vault_of(activity.client())
        if vault is None:
            raise _locked(
                "the customer's data is sealed and this worker has encryption off: "
                "configure JOURNEY_PAYLOAD_KEYS and JOURNEY_KEY_STORE"
            )
        return vault


def _sealed(request: MessageRequest | AlertRequest) -> bool:
    feedback = request.facts.feedback
    return request.order.customer.sealed or (
        feedback is not None and isinstance(feedback.comment, Sealed)
    )


def _erased(order: Order) -> Order:
    customer = order.customer
    placeholders: dict[str, str] = {
        field: ERASED for field in CONTACT_FIELDS if isinstance(getattr(customer, field), Sealed)
    }
    return order.model_copy(update={"customer": customer.model_copy(update=placeholders)})


def _locked(why: str) -> ApplicationError:
    # Retried: a fixed configuration lets the send go on.
    return ApplicationError(why, type=RetryableSendErrorType.CUSTOMER_DATA_LOCKED)
