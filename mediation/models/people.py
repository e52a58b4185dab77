from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from mediation.identity import (
    decrypt_id_number,
    encrypt_id_number,
    id_number_digest,
    mask_id_number,
)


class Role(models.TextChoices):
    CONSUMER = "consumer", _("金融消费者")
    INSTITUTION_AGENT = "institution_agent", _("金融机构经办人")
    MEDIATOR = "mediator", _("调解员")
    CASE_MANAGER = "case_manager", _("调解中心案件管理员")
    COURT_CLERK = "court_clerk", _("法院书记员/法官")
    REGULATOR = "regulator", _("监管人员")
    ADMIN = "admin", _("系统管理员")


# Roles whose accounts belong to an organisation of this kind.
ROLE_ORGANISATION_KIND = {
    Role.INSTITUTION_AGENT: "institution",
    Role.MEDIATOR: "centre",
    Role.CASE_MANAGER: "centre",
    Role.COURT_CLERK: "court",
    Role.REGULATOR: "regulator",
}

STAFF_ROLES = {Role.CASE_MANAGER, Role.ADMIN, Role.COURT_CLERK, Role.REGULATOR, Role.MEDIATOR}


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=30, choices=Role.choices, default=Role.CONSUMER)
    organisation = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("所属组织"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    real_name = models.CharField(_("真实姓名"), max_length=50, blank=True)
    phone = PhoneNumberField(_("手机号码"), region="CN", blank=True)
    phone_verified_at = models.DateTimeField(_("手机验证时间"), null=True, blank=True)
    id_number_encrypted = models.TextField(editable=False, blank=True)
    id_number_digest = models.CharField(max_length=64, editable=False, blank=True, db_index=True)
    id_number_masked = models.CharField(_("身份证号码"), max_length=18, editable=False, blank=True)
    identity_verified_at = models.DateTimeField(_("实名核验时间"), null=True, blank=True)
    # An institution supervisor (head office) may approve the second extension of the answer clock.
    can_approve_extensions = models.BooleanField(_("可审批延期"), default=False)
    large_text = models.BooleanField(_("大字高对比度模式"), default=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_digest"],
                condition=~models.Q(id_number_digest=""),
                name="unique_resident_id",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.real_name or self.username

    def set_id_number(self, number: str) -> None:
        """Store an already validated resident ID number: encrypted, hashed and masked."""
        self.id_number_encrypted = encrypt_id_number(number)
        self.id_number_digest = id_number_digest(number)
        self.id_number_masked = mask_id_number(number)

    def reveal_id_number(self) -> str:
        """The full number, for documents that legally need it (e.g. the judicial application).

        Callers record a ``mediation.identity.revealed`` ledger entry.
        """
        return decrypt_id_number(self.id_number_encrypted) if self.id_number_encrypted else ""

    @property
    def is_consumer(self) -> bool:
        return self.role == Role.CONSUMER
