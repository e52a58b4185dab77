"""Signals the signing app sends; apps further right connect to them (the core never imports them).

``agreement_effective``: sent inside the transaction that makes an agreement effective (the last
signature), with ``agreement``. A receiver writing rows commits or rolls back with the signature
itself, so what it creates exists exactly once per effective agreement.
"""

from __future__ import annotations

from django.dispatch import Signal

agreement_effective = Signal()
