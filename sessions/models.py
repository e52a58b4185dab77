"""Mediation sessions and their rooms: the joint room and one private caucus (背对背) per side.

The database is the source of truth for every message (Channels delivers at most once): each room
numbers its messages 1, 2, 3, … without gaps, and a client that reconnects asks for everything
after the last number it saw.

在线调解规则 Art 18: what a side says in its caucus stays there — it reaches the joint room, the
mediation record or a court package only if its author releases it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MediationSession(models.Model):
    """One scheduled sitting of a case's mediation."""

    class Mode(models.TextChoices):
        JOINT = "joint", _("面对面调解")
        SEPARATE = "separate", _("背对背调解")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("已安排")
        OPEN = "open", _("进行中")
        CLOSED = "closed", _("已结束")
        CANCELLED = "cancelled", _("已取消")

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="mediation_sessions")
    number = models.PositiveIntegerField(_("场次"))
    mode = models.CharField(_("调解方式"), max_length=10, choices=Mode.choices, default=Mode.JOINT)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.SCHEDULED)
    scheduled_start = models.DateTimeField(_("开始时间"))
    scheduled_end = models.DateTimeField(_("预计结束时间"))
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # 在线调解规则 Art 22: the mediator records whether the parties consent to recording.
    recording_consent = models.BooleanField(_("同意录音录像"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Scheduling (sessions.scheduling): who is invited, and the invitation's iCalendar SEQUENCE,
    # raised on every reschedule and on cancellation so calendars replace the earlier copy.
    expected_participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="expected_mediation_sessions", verbose_name=_("应到人员")
    )
    sequence = models.PositiveIntegerField(default=0)
    # When the current times were sent out: a reminder threshold longer than the notice given is skipped.
    invited_at = models.DateTimeField(null=True, blank=True)
    # The declared unavailable dates the mediator knowingly scheduled over: [{"user": id, "date": "…"}].
    overridden_unavailability = models.JSONField(default=list, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(_("取消原因"), blank=True)

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="one_session_number_per_case"),
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(state="open"), name="one_open_session_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.number}"


class Attendance(models.Model):
    """One person at one session: identity re-checked, sham-mediation warning acknowledged, times.

    在线调解规则 Art 17 / 在线诉讼规则 Art 7: before taking part each participant re-verifies identity
    with a one-time code to their verified phone and acknowledges the warning about sham mediation.
    The mediation record (调解笔录) lists these rows.
    """

    class Role(models.TextChoices):
        CONSUMER = "consumer", _("投诉人")
        INSTITUTION = "institution", _("金融机构")
        MEDIATOR = "mediator", _("调解员")
        OTHER = "other", _("其他参与人")

    session = models.ForeignKey(MediationSession, on_delete=models.CASCADE, related_name="attendances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("身份"), max_length=12, choices=Role.choices)
    # How identity was re-verified ("sms", "email" one-time code) and when.
    identity_method = models.CharField(max_length=10, blank=True)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    warning_acknowledged_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    # Set by the mediator: the person may read but not write until unmuted.
    muted_at = models.DateTimeField(null=True, blank=True)
    # Where the mediator has put a party: in their own caucus they cannot write in the joint room.
    in_caucus = models.BooleanField(default=False)

    class Meta:
        ordering = ["session", "role", "user"]
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_attendance_per_session_user")]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.user_id}"

    @property
    def checked_in(self) -> bool:
        return self.identity_verified_at is not None and self.warning_acknowledged_at is not None


class Room(models.Model):
    """The joint room of a case, or one side's private caucus with the mediators."""

    class Kind(models.TextChoices):
        JOINT = "joint", _("联合调解室")
        CAUCUS = "caucus", _("单方会谈室")

    JOINT_SIDE = ""
    INSTITUTION_SIDE = "institution"

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="rooms")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # "" for the joint room; "consumer:<user id>" or "institution" for a caucus.
    side = models.CharField(max_length=40, blank=True)
    # The number of the room's last message: the next one gets last_seq + 1 under a row lock.
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "kind", "side"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "side"], name="one_room_per_case_side"),
            models.CheckConstraint(
                condition=(models.Q(kind="joint", side="") | (models.Q(kind="caucus") & ~models.Q(side=""))),
                name="joint_room_has_no_side_caucus_has_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}:{self.side}"

    @property
    def is_caucus(self) -> bool:
        return self.kind == self.Kind.CAUCUS


class Message(models.Model):
    """One message in a room, numbered without gaps within the room."""

    class Kind(models.TextChoices):
        TEXT = "text", _("文字")
        SYSTEM = "system", _("系统消息")
        FILE = "file", _("文件")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    # The sender's own id for the message: a client re-sending after a reconnect gets the stored
    # message back instead of a second copy.
    client_id = models.CharField(max_length=64, blank=True)
    # A system message's machine-readable event (joined, left, moved, released, …).
    event = models.JSONField(default=dict, blank=True)
    session = models.ForeignKey(
        MediationSession, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A caucus message its author released to the joint room (在线调解规则 Art 18), and the copy made there.
    released_at = models.DateTimeField(null=True, blank=True)
    released_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="released_copy"
    )

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="gap_free_sequence_per_room"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=~models.Q(client_id=""),
                name="one_message_per_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq}"


class Presence(models.Model):
    """One open connection to a room, in whichever server process holds it.

    Rows of a process that died go stale: a connection counts only while ``seen_at`` is recent
    (the client pings; ``SESSION_PRESENCE_SECONDS``).
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id}@{self.room_id}"


class Offer(models.Model):
    """A proposal put on the table in the joint room: accepted, rejected or countered by the other side.

    A party's offer is answered by the other side; a mediator's proposal needs both sides to accept.
    """

    class State(models.TextChoices):
        OPEN = "open", _("待回应")
        ACCEPTED = "accepted", _("已接受")
        REJECTED = "rejected", _("已拒绝")
        COUNTERED = "countered", _("已还价")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Side(models.TextChoices):
        CONSUMER = "consumer", _("投诉人")
        INSTITUTION = "institution", _("金融机构")
        MEDIATOR = "mediator", _("调解员")

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="offers")
    number = models.PositiveIntegerField()
    side = models.CharField(max_length=12, choices=Side.choices)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # {"amount": "5000.00", "instalments": [{"due_date": "2026-12-31", "amount": "2500.00"}, …],
    #  "waivers": ["…"], "other_terms": "…"}: the canonical form sessions.negotiation.clean_terms makes.
    terms = models.JSONField()
    counter_to = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="counters")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    # The sides that have accepted (both needed for a mediator's proposal).
    accepted_sides = models.JSONField(default=list, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="one_offer_number_per_case")]

    def __str__(self) -> str:
        return f"{self.case_id}/offer {self.number}"


class BlindBidRound(models.Model):
    """Blind bidding (双盲报价): each side submits a secret figure once; only the outcome is kept.

    在线调解规则 Art 18: the figures are never shown to the other side, never written to the
    ledger, the record or a package, and are erased the moment the round is decided.
    """

    class State(models.TextChoices):
        OPEN = "open", _("报价中")
        SETTLED = "settled", _("已达成")
        NO_OVERLAP = "no_overlap", _("未重合")
        CANCELLED = "cancelled", _("已取消")

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="blind_bid_rounds")
    number = models.PositiveIntegerField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The gap the parties agreed in advance: within it the case settles at the midpoint too.
    agreed_gap = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    settled_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="one_bid_round_number_per_case"),
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(state="open"), name="one_open_bid_round_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/bid round {self.number}"


class BlindBid(models.Model):
    """One side's sealed figure; ``figure`` is emptied when the round is decided."""

    class Side(models.TextChoices):
        CONSUMER = "consumer", _("投诉人")
        INSTITUTION = "institution", _("金融机构")

    round = models.ForeignKey(BlindBidRound, on_delete=models.CASCADE, related_name="bids")
    side = models.CharField(max_length=12, choices=Side.choices)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    figure = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "side"], name="one_bid_per_side_per_round")]

    def __str__(self) -> str:
        return f"{self.round_id}/{self.side}"


class UnavailableDate(models.Model):
    """A day a party (or the mediator) cannot attend a sitting of this case; scheduling checks it."""

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="unavailable_dates")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("日期"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "date", "user"]
        constraints = [models.UniqueConstraint(fields=["case", "user", "date"], name="one_unavailable_date_per_user")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.user_id}:{self.date}"


class SessionReminder(models.Model):
    """One reminder sent before a sitting; the unique key makes the sweep idempotent.

    Keyed by the start time too: a rescheduled sitting is reminded again before its new start.
    """

    session = models.ForeignKey(MediationSession, on_delete=models.CASCADE, related_name="reminders")
    hours_before = models.PositiveIntegerField()
    start = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "hours_before", "start"], name="one_reminder_per_threshold")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}-{self.hours_before}h"


def record_upload_path(instance: MediationRecord, filename: str) -> str:
    return f"mediation_records/{instance.session.case_id}/{filename}"


class MediationRecord(models.Model):
    """调解笔录 of one sitting: who took part and how they were checked, the undisputed facts, the
    statements the mediator picked from the joint room, the outcome.

    在线调解规则 Art 22: the mediator keeps the record; the parties confirm it online. Finalising
    freezes the content as canonical JSON (``snapshot``, with its SHA-256); each party then confirms
    or objects, an objection sends it back to draft. When every party has confirmed, the signing app
    renders the snapshot to PDF and seals it with the centre's seal (``pdf``). Art 18: statements
    come from the joint room only, never from a caucus (``sessions.record`` refuses them).
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        FINALISED = "finalised", _("待当事人确认")
        CONFIRMED = "confirmed", _("各方已确认")

    class Outcome(models.TextChoices):
        AGREEMENT = "agreement", _("达成调解协议")
        PARTIAL = "partial", _("部分达成一致")
        NO_AGREEMENT = "no_agreement", _("未达成一致")
        ADJOURNED = "adjourned", _("休会，另行安排调解")

    session = models.OneToOneField(MediationSession, on_delete=models.CASCADE, related_name="record")
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    undisputed_facts = models.TextField(_("无争议事实"), blank=True)
    outcome = models.CharField(_("调解结果"), max_length=12, choices=Outcome.choices, blank=True)
    outcome_text = models.TextField(_("调解结果说明"), blank=True)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    # Each finalising is a new revision; confirmations count only for the revision they answered.
    revision = models.PositiveIntegerField(default=0)
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    snapshot = models.TextField(blank=True)  # canonical JSON of the finalised content
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The rendered record sealed by the centre, written by the signing app after confirmation.
    pdf = models.FileField(upload_to=record_upload_path, max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_sm3 = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("调解笔录")
        verbose_name_plural = _("调解笔录")

    def __str__(self) -> str:
        return f"{self.session} record"

    @property
    def is_sealed(self) -> bool:
        return self.sealed_at is not None


class RecordStatement(models.Model):
    """A statement the mediator put in the record: one message of the sitting's joint room."""

    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="statements")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="+")
    selected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    selected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "message"], name="one_statement_per_message")]

    def __str__(self) -> str:
        return f"{self.record_id}:{self.message_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        # 在线调解规则 Art 18: whatever path writes the row, a caucus message never enters a record.
        from sessions.record import check_statement_message

        check_statement_message(self.record, self.message)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class RecordConfirmation(models.Model):
    """One side's answer to one finalised revision: confirmed, or an objection for the mediator."""

    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", _("确认无误")
        OBJECTED = "objected", _("提出异议")

    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="confirmations")
    revision = models.PositiveIntegerField()
    snapshot_sha256 = models.CharField(max_length=64)
    # "consumer:<user id>" or "institution": the institution answers once, by any of its agents.
    side = models.CharField(max_length=40)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    objection = models.TextField(_("异议内容"), blank=True)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["record", "revision", "at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["record", "revision", "side"], name="one_answer_per_side_per_revision")
        ]

    def __str__(self) -> str:
        return f"{self.record_id} r{self.revision} {self.side}: {self.kind}"


def attachment_upload_path(instance: Attachment, filename: str) -> str:
    # Like evidence: the stored name is the content's hash, never the uploader's file name.
    return f"sessions/{instance.room.case_id}/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    """The file of a ``file`` message, checked like evidence (mediation.evidence_checks).

    It belongs to one room: a caucus file is reachable only from that caucus (在线调解规则 Art 18).
    Releasing it makes a second row in the joint room pointing at the same stored file.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to=attachment_upload_path, max_length=300)
    original_name = models.CharField(_("文件名"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    sm3 = models.CharField(max_length=64, blank=True)
    released_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="released_copy"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room", "id"]

    def __str__(self) -> str:
        return self.original_name
