from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mediation.identity import validate_credit_code


def credit_code_validator(value: str) -> None:
    validate_credit_code(value)


class Organisation(models.Model):
    class Kind(models.TextChoices):
        INSTITUTION = "institution", _("金融机构")
        CENTRE = "centre", _("调解中心")
        COURT = "court", _("人民法院")
        REGULATOR = "regulator", _("监管部门")

    class InstitutionType(models.TextChoices):
        BANK = "bank", _("银行")
        INSURER = "insurer", _("保险公司")
        PAYMENT = "payment", _("支付机构")

    class CourtLevel(models.TextChoices):
        BASIC = "basic", _("基层人民法院")
        INTERMEDIATE = "intermediate", _("中级人民法院")
        HIGH = "high", _("高级人民法院")

    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级机构"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="branches",
    )
    credit_code = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        unique=True,
        null=True,
        blank=True,
        validators=[credit_code_validator],
    )
    institution_type = models.CharField(_("机构类别"), max_length=20, choices=InstitutionType.choices, blank=True)
    court_level = models.CharField(_("法院层级"), max_length=20, choices=CourtLevel.choices, blank=True)
    court_code = models.CharField(_("法院代码"), max_length=20, blank=True)
    region = models.CharField(_("所在地区"), max_length=100, blank=True)
    address = models.CharField(_("地址"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="institution") | ~models.Q(institution_type=""),
                name="institution_has_type",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list[Organisation]:
        """This organisation and every organisation above it, nearest first."""
        chain: list[Organisation] = []
        node: Organisation | None = self
        while node is not None and node not in chain:
            chain.append(node)
            node = node.parent
        return chain

    @property
    def head_office(self) -> Organisation:
        return self.ancestors()[-1]
