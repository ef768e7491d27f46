"""Admin settings of what deals hold: the product catalogue, custom fields and the quote rule per pipeline."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dealflow.customfields.selectors import custom_field_get, custom_field_list
from dealflow.customfields.services import custom_field_create, custom_field_update
from dealflow.deals.selectors import (
    lost_reason_get,
    lost_reason_list,
    pipeline_get,
    pipeline_list,
    stage_get,
    stage_list,
)
from dealflow.products.selectors import product_get, product_list
from dealflow.products.services import product_create, product_update
from dealflow.quotes.selectors import quote_rule_for_pipeline
from dealflow.quotes.services import quote_rule_set
from dealflow.web.forms.contents import (
    CustomFieldForm,
    CustomFieldUpdateForm,
    ProductForm,
    QuoteRuleForm,
    prices_text,
)
from dealflow.web.views.settings import Failed, _pick, _submit, admin_only
from dealflow.web.views.workspace import AuthenticatedRequest

# ---- Products -------------------------------------------------------------------------------------


def _product_initial(product: Any) -> dict[str, Any]:
    return {
        "name": product.name,
        "code": product.code,
        "prices": prices_text(product),
        "unit": product.unit,
        "tax_rate": product.tax_rate,
        "billing": product.billing,
        "term_months": product.term_months or "",
        "description": product.description,
        "is_active": product.is_active,
    }


def _products_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    products = list(product_list(include_inactive=True))
    rows = [
        {
            "product": product,
            "form": _pick(
                failed,
                f"product-{product.pk}",
                ProductForm(initial=_product_initial(product), prefix=f"p{product.pk}"),
            ),
        }
        for product in products
    ]
    context = {
        "tab": "products",
        "rows": rows,
        "create_form": _pick(failed, "create", ProductForm(prefix="new")),
    }
    return render(request, "web/settings/products.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def settings_products(request: AuthenticatedRequest) -> HttpResponse:
    """The catalogue; POST adds a product."""
    if request.method == "GET":
        return _products_page(request)
    return _submit(
        request,
        ProductForm(request.POST, prefix="new"),
        lambda data: product_create(**data, by=request.user),
        success=_("Product added."),
        redirect_to=lambda _product: reverse("web:settings_products"),
        page=lambda failed: _products_page(request, failed),
        key="create",
    )


@admin_only
@require_POST
def settings_product_update(request: AuthenticatedRequest, product_id: int) -> HttpResponse:
    product = product_get(product_id=product_id)
    return _submit(
        request,
        ProductForm(request.POST, prefix=f"p{product.pk}"),
        lambda data: product_update(product=product, data=data, by=request.user),
        success=_("Product saved."),
        redirect_to=lambda _product: reverse("web:settings_products"),
        page=lambda failed: _products_page(request, failed),
        key=f"product-{product.pk}",
    )


# ---- Custom fields --------------------------------------------------------------------------------


def _fields_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    pipelines = list(pipeline_list())
    fields = [
        field
        for entity in ("deal", "organization", "person", "lead")
        for field in custom_field_list(entity=entity, include_inactive=True, all_pipelines=True)
    ]
    rows = [
        {
            "field": field,
            "form": _pick(
                failed,
                f"field-{field.pk}",
                CustomFieldUpdateForm(
                    prefix=f"f{field.pk}",
                    initial={
                        "label": field.label,
                        "choices": "\n".join(field.choices),
                        "is_required": field.is_required,
                        "is_active": field.is_active,
                    },
                ),
            ),
        }
        for field in fields
    ]
    context = {
        "tab": "custom_fields",
        "rows": rows,
        "create_form": _pick(failed, "create", CustomFieldForm(prefix="new", pipelines=pipelines)),
    }
    return render(request, "web/settings/custom_fields.html", context)


def _create_field(request: AuthenticatedRequest, data: dict[str, Any]) -> Any:
    pipeline_id = data.pop("pipeline")
    data["pipeline"] = pipeline_get(pipeline_id=pipeline_id, field="pipeline") if pipeline_id else None
    return custom_field_create(**data, by=request.user)


@admin_only
@require_http_methods(["GET", "POST"])
def settings_custom_fields(request: AuthenticatedRequest) -> HttpResponse:
    """Custom fields of deals, organisations, persons and leads; POST defines one."""
    if request.method == "GET":
        return _fields_page(request)
    return _submit(
        request,
        CustomFieldForm(request.POST, prefix="new", pipelines=list(pipeline_list())),
        lambda data: _create_field(request, data),
        success=_("Custom field added."),
        redirect_to=lambda _field: reverse("web:settings_custom_fields"),
        page=lambda failed: _fields_page(request, failed),
        key="create",
    )


@admin_only
@require_POST
def settings_custom_field_update(request: AuthenticatedRequest, field_id: int) -> HttpResponse:
    field = custom_field_get(field_id=field_id)
    form = CustomFieldUpdateForm(request.POST, prefix=f"f{field.pk}")

    def save(data: dict[str, Any]) -> Any:
        if field.kind not in ("choice", "multi_choice"):
            data.pop("choices", None)
        return custom_field_update(field=field, data=data, by=request.user)

    return _submit(
        request,
        form,
        save,
        success=_("Custom field saved."),
        redirect_to=lambda _field: reverse("web:settings_custom_fields"),
        page=lambda failed: _fields_page(request, failed),
        key=f"field-{field.pk}",
    )


# ---- Quote rules ----------------------------------------------------------------------------------


def _rule_form(pipeline: Any, data: Any = None) -> QuoteRuleForm:
    rule = quote_rule_for_pipeline(pipeline_id=pipeline.pk)
    initial = (
        {
            "on_accept": rule.on_accept,
            "accept_stage": rule.accept_stage_id,
            "on_decline": rule.on_decline,
            "decline_reason": rule.decline_reason_id,
        }
        if rule
        else {}
    )
    return QuoteRuleForm(
        data,
        prefix=f"r{pipeline.pk}",
        initial=initial,
        stages=[stage for stage in stage_list(pipeline_id=pipeline.pk) if not stage.is_closed],
        reasons=list(lost_reason_list()),
    )


def _rules_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    rows = [
        {"pipeline": pipeline, "form": _pick(failed, f"rule-{pipeline.pk}", _rule_form(pipeline))}
        for pipeline in pipeline_list()
    ]
    return render(request, "web/settings/quote_rules.html", {"tab": "quote_rules", "rows": rows})


@admin_only
@require_http_methods(["GET"])
def settings_quote_rules(request: AuthenticatedRequest) -> HttpResponse:
    """What accepting or declining a quote does to a deal, per pipeline."""
    return _rules_page(request)


@admin_only
@require_POST
def settings_quote_rule_update(request: AuthenticatedRequest, pipeline_id: int) -> HttpResponse:
    pipeline = pipeline_get(pipeline_id=pipeline_id)

    def save(data: dict[str, Any]) -> Any:
        return quote_rule_set(
            pipeline=pipeline,
            on_accept=data["on_accept"],
            accept_stage=stage_get(stage_id=data["accept_stage"], field="accept_stage")
            if data["accept_stage"]
            else None,
            on_decline=data["on_decline"],
            decline_reason=lost_reason_get(reason_id=data["decline_reason"], field="decline_reason")
            if data["decline_reason"]
            else None,
            by=request.user,
        )

    return _submit(
        request,
        _rule_form(pipeline, request.POST),
        save,
        success=_("Quote rule saved."),
        redirect_to=lambda _rule: reverse("web:settings_quote_rules"),
        page=lambda failed: _rules_page(request, failed),
        key=f"rule-{pipeline.pk}",
    )
