"""Agreement drafting pages: the agreement, its versions and comments, diffs, and finalisation.

Every view fetches the case through ``permissions.get_case_for_user`` first, before any method
check: an outsider (also a court clerk or a regulator) gets 404 whatever the method. People on the
case who are not its mediator get 403 for the mediator's actions: they can see the case anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mediation import ledger, permissions
from mediation.models import Case, CaseState
from mediation.views.accounts import AuthenticatedRequest
from signing import drafting, negotiated
from signing import terms as agreement_terms
from signing.forms_drafting import CommentForm, DraftForms, FinaliseForm, StartForm
from signing.models import Agreement, AgreementVersion

logger = logging.getLogger(__name__)

TEMPLATES = "signing/drafting/"


def _allow(request: AuthenticatedRequest, *methods: str) -> HttpResponse | None:
    """Called after the permission checks, so a stranger's PUT is a 404 too, not a 405."""
    return None if request.method in methods else HttpResponseNotAllowed(list(methods))


def _require_mediator(request: AuthenticatedRequest, case: Case) -> None:
    if not request.user.has_perm(permissions.MEDIATE, case):
        raise PermissionDenied


def _agreement_or_404(case: Case) -> Agreement:
    agreement = Agreement.objects.filter(case=case).select_related("final_version", "finalised_by").first()
    if agreement is None:
        raise Http404
    return agreement


def _version_or_404(agreement: Agreement, number: int) -> AgreementVersion:
    return get_object_or_404(AgreementVersion.objects.select_related("author"), agreement=agreement, number=number)


def _content(version: AgreementVersion) -> dict[str, Any]:
    return {"version": version, "clauses": agreement_terms.describe(version.terms)}


def _may_edit(request: AuthenticatedRequest, case: Case, agreement: Agreement | None) -> bool:
    return (
        agreement is not None
        and request.user.has_perm(permissions.MEDIATE, case)
        and case.state == CaseState.MEDIATING
        and agreement.state == Agreement.State.DRAFTING
        and not agreement.is_frozen
    )


def _agreement_page(
    request: AuthenticatedRequest, case: Case, *, start_form: StartForm | None = None, status: int = 200
) -> HttpResponse:
    agreement = Agreement.objects.filter(case=case).select_related("final_version", "finalised_by").first()
    is_mediator = request.user.has_perm(permissions.MEDIATE, case)
    context: dict[str, Any] = {"case": case, "agreement": agreement, "is_mediator": is_mediator}
    if agreement is None:
        can_start = is_mediator and case.state == CaseState.MEDIATING
        if can_start and start_form is None:
            start_form = StartForm(initial={"template": agreement_terms.template_for_case(case)})
        context["start_form"] = start_form if can_start else None
        return render(request, TEMPLATES + "agreement.html", context, status=status)
    versions = list(
        agreement.versions.select_related("author").annotate(comment_count=Count("comments")).order_by("number")
    )
    latest = versions[-1] if versions else None
    context.update(
        {
            "versions": versions,
            "latest": _content(latest) if latest else None,
            "can_edit": _may_edit(request, case, agreement),
            "negotiated": negotiated.latest_outcome(case) if _may_edit(request, case, agreement) else None,
            "slots": list(agreement.slots.select_related("signed_by").order_by("position")),
            "awaiting_document": agreement.is_frozen and not agreement.revisions.exists(),
        }
    )
    return render(request, TEMPLATES + "agreement.html", context, status=status)


@login_required
def agreement(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if (refused := _allow(request, "GET", "HEAD")) is not None:
        return refused
    return _agreement_page(request, case)


@login_required
def start(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    _require_mediator(request, case)
    if (refused := _allow(request, "POST")) is not None:
        return refused
    form = StartForm(request.POST)
    if not form.is_valid():
        return _agreement_page(request, case, start_form=form, status=400)
    try:
        drafting.start_agreement(
            case, actor=request.user, template=form.cleaned_data["template"], ip=ledger.client_ip(request)
        )
    except drafting.DraftingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已生成调解协议初稿（第 1 稿），请修改后发给各方征求意见。"))
    return redirect("signing:agreement", case_pk=case.pk)


@login_required
def use_negotiated(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    """The latest accepted offer (or settled blind bid) written into a new draft."""
    case = permissions.get_case_for_user(request.user, case_pk)
    _require_mediator(request, case)
    agreement = _agreement_or_404(case)
    if (refused := _allow(request, "POST")) is not None:
        return refused
    try:
        version = drafting.use_negotiated(agreement, actor=request.user, ip=ledger.client_ip(request))
    except drafting.DraftingError as error:
        messages.error(request, str(error))
        return redirect("signing:agreement", case_pk=case.pk)
    messages.success(request, _("第 %(number)s 稿已保存，已通知各方查看。") % {"number": version.number})
    return redirect("signing:version", case_pk=case.pk, number=version.number)


@login_required
def version_new(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    _require_mediator(request, case)
    agreement = _agreement_or_404(case)
    if (refused := _allow(request, "GET", "POST")) is not None:
        return refused
    if not _may_edit(request, case, agreement):
        messages.error(request, _("调解协议已定稿或调解已结束，不能再修改。"))
        return redirect("signing:agreement", case_pk=case.pk)
    latest = agreement.versions.order_by("-number").first()
    if request.method == "GET":
        forms = DraftForms(version=latest)
        return _version_form(request, case, agreement, latest, forms)
    forms = DraftForms(request.POST)
    if forms.is_valid():
        try:
            version = drafting.save_version(
                agreement,
                actor=request.user,
                facts=forms.form.cleaned_data["facts"],
                dispute=forms.form.cleaned_data["dispute"],
                terms=forms.cleaned_terms,
                change_note=forms.form.cleaned_data.get("change_note", ""),
                ip=ledger.client_ip(request),
            )
        except ValidationError as error:
            forms.add_errors(error)
        except drafting.DraftingError as error:
            forms.form.add_error(None, str(error))
        else:
            messages.success(request, _("第 %(number)s 稿已保存，已通知各方查看。") % {"number": version.number})
            return redirect("signing:version", case_pk=case.pk, number=version.number)
    return _version_form(request, case, agreement, latest, forms, status=400)


def _version_form(
    request: AuthenticatedRequest,
    case: Case,
    agreement: Agreement,
    latest: AgreementVersion | None,
    forms: DraftForms,
    *,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        TEMPLATES + "version_form.html",
        {"case": case, "agreement": agreement, "latest": latest, "forms": forms, "form": forms.form},
        status=status,
    )


def _version_page(
    request: AuthenticatedRequest,
    case: Case,
    agreement: Agreement,
    version: AgreementVersion,
    *,
    comment_form: CommentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_comment = (
        drafting.may_comment(request.user, case) and not agreement.is_frozen and agreement.state != Agreement.State.VOID
    )
    numbers = list(agreement.versions.values_list("number", flat=True))
    context = {
        "case": case,
        "agreement": agreement,
        **_content(version),
        "comments": version.comments.select_related("author"),
        "comment_form": (comment_form or CommentForm()) if can_comment else None,
        "previous": max((n for n in numbers if n < version.number), default=None),
        "next": min((n for n in numbers if n > version.number), default=None),
        "is_latest": version.number == max(numbers),
        "is_final": agreement.final_version_id == version.pk,
    }
    return render(request, TEMPLATES + "version.html", context, status=status)


@login_required
def version(request: AuthenticatedRequest, case_pk: int, number: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    agreement = _agreement_or_404(case)
    shown = _version_or_404(agreement, number)
    if (refused := _allow(request, "GET", "HEAD")) is not None:
        return refused
    return _version_page(request, case, agreement, shown)


@login_required
def comment(request: AuthenticatedRequest, case_pk: int, number: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    agreement = _agreement_or_404(case)
    commented = _version_or_404(agreement, number)
    if not drafting.may_comment(request.user, case):
        raise PermissionDenied
    if (refused := _allow(request, "POST")) is not None:
        return refused
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            drafting.add_comment(
                commented, actor=request.user, body=form.cleaned_data["body"], ip=ledger.client_ip(request)
            )
        except ValidationError as error:
            form.add_error("body", error.message_dict.get("body", error.messages))
        except drafting.DraftingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("意见已提交，调解员会看到。"))
            return redirect("signing:version", case_pk=case.pk, number=commented.number)
    return _version_page(request, case, agreement, commented, comment_form=form, status=400)


@login_required
def version_diff(request: AuthenticatedRequest, case_pk: int, a: int, b: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    agreement = _agreement_or_404(case)
    old = _version_or_404(agreement, a)
    new = _version_or_404(agreement, b)
    if (refused := _allow(request, "GET", "HEAD")) is not None:
        return refused
    lines = drafting.diff(old, new)
    return render(
        request,
        TEMPLATES + "diff.html",
        {
            "case": case,
            "agreement": agreement,
            "old": old,
            "new": new,
            "lines": lines,
            "changed": any(line.kind != "same" for line in lines),
        },
    )


# Rendering the signing document must not run inside a request transaction, even if
# ATOMIC_REQUESTS is switched on one day: the freeze commits first, then the PDF is made.
@transaction.non_atomic_requests
@login_required
def finalise(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    _require_mediator(request, case)
    agreement = _agreement_or_404(case)
    if (refused := _allow(request, "GET", "POST")) is not None:
        return refused
    if not _may_edit(request, case, agreement):
        messages.error(request, _("调解协议已定稿或调解已结束，不能再定稿。"))
        return redirect("signing:agreement", case_pk=case.pk)
    latest = agreement.versions.select_related("author").order_by("-number").first()
    if latest is None:
        raise Http404
    if request.method == "GET":
        form = FinaliseForm(initial={"version": latest.number})
        return _finalise_page(request, case, agreement, latest, form)
    form = FinaliseForm(request.POST)
    if form.is_valid():
        chosen = AgreementVersion.objects.filter(agreement=agreement, number=form.cleaned_data["version"]).first()
        if chosen is None:
            form.add_error(None, _("要定稿的版本不存在。"))
        else:
            try:
                drafting.finalise(
                    agreement,
                    actor=request.user,
                    version=chosen,
                    ip=ledger.client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except drafting.DraftingError as error:
                form.add_error(None, str(error))
            else:
                _prepare_signing(request, agreement)
                return redirect("signing:agreement", case_pk=case.pk)
    return _finalise_page(request, case, agreement, latest, form, status=400)


def _prepare_signing(request: AuthenticatedRequest, agreement: Agreement) -> None:
    """Render the signing document now that the freeze has committed (no request transaction here)."""
    from signing import services

    try:
        services.prepare_signing(agreement, actor=request.user, ip=ledger.client_ip(request))
    except services.SigningError as error:
        messages.warning(request, _("协议已定稿，但签署文本暂未生成：%(reason)s") % {"reason": error.message})
    except Exception:
        # The freeze stands; the signing page offers to prepare the document again.
        logger.exception("preparing the signing document of agreement %s failed", agreement.pk)
        messages.warning(request, _("协议已定稿，但签署文本暂未生成。请稍后在签署页面重新生成。"))
    else:
        messages.success(request, _("协议已定稿，签署文本已生成，各方可以开始签署。"))


def _finalise_page(
    request: AuthenticatedRequest,
    case: Case,
    agreement: Agreement,
    latest: AgreementVersion,
    form: FinaliseForm,
    *,
    status: int = 200,
) -> HttpResponse:
    problems: list[str] = []
    try:
        agreement_terms.clean_terms(latest.terms)
    except ValidationError as error:
        problems = [message for texts in error.message_dict.values() for message in texts]
    return render(
        request,
        TEMPLATES + "finalise.html",
        {"case": case, "agreement": agreement, "form": form, "problems": problems, **_content(latest)},
        status=status,
    )
