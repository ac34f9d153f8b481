"""WhatsApp both ways, as plain Python: what the Cloud API's webhook says and what it
means for journeys.

- `notifications`: Meta's webhook payloads (`entry[].changes[].value.statuses[]` and
  `.messages[]`) read into status updates and customer messages, item by item;
- `signature`: `X-Hub-Signature-256`, checked on the raw body in constant time;
- `callback`: the `biz_opaque_callback_data` each send carries and Meta echoes in its
  statuses, which names the journey and the step without a lookup table;
- `failures`: which error codes of a `failed` status move a message to the next channel;
- `keywords`: opt-out keywords, matched without regard to case, accents or spacing;
- `phones`: the keyed hash that finds a customer's journeys without storing the number.

No I/O here: the web service's router (`web/routers/whatsapp.py`) applies what these
modules read, and the journey (`journey/conversation.py`) decides what it changes.
"""
